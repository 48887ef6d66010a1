#!/usr/bin/env node
// Thin launcher: faultline is TypeScript run by Node 24's built-in type stripping, so it needs
// Node >= 24. `npm run faultline -- ...` and `npx faultline` put the project's own Node 24
// (the `node` devDependency) first on PATH.
const major = Number(process.versions.node.split('.')[0])
if (major < 24) {
  console.error(
    `faultline needs Node.js >= 24 (this is ${process.version}).\n` +
      'Run it through npm so the project-provided Node 24 is used: npm run faultline -- <command>, or npx faultline <command>.',
  )
  process.exit(2)
}
// The sidecar runs in every injected pod, so its memory is paid many times over. V8 sizes its
// young generation for throughput (semi-spaces up to 32 MB or more), and it is garbage from
// each request that fills it: a small young generation costs little CPU and keeps RSS down.
// The flags only take effect at start-up, so the process re-executes itself with them (same
// PID, nothing left running). FAULTLINE_SEMI_SPACE_MB and FAULTLINE_HEAP_MB (the old generation;
// by default three quarters of FAULTLINE_MEMORY_LIMIT_MB when set) tune it; FAULTLINE_V8_DEFAULTS=1
// opts out.
if (
  process.argv[2] === 'sidecar' &&
  typeof process.execve === 'function' &&
  !process.env.FAULTLINE_V8_DEFAULTS &&
  !process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))
) {
  const flags = [`--max-semi-space-size=${process.env.FAULTLINE_SEMI_SPACE_MB || 4}`]
  // In a pod the injector passes the container's memory limit: the old generation gets three
  // quarters of it, so V8 collects garbage before the kernel would kill the container.
  const limitMb = Number(process.env.FAULTLINE_MEMORY_LIMIT_MB)
  const heapMb = process.env.FAULTLINE_HEAP_MB || (limitMb > 0 ? String(Math.max(64, Math.floor(limitMb * 0.75))) : '')
  if (heapMb) flags.push(`--max-old-space-size=${heapMb}`)
  // glibc gives each thread that allocates its own arena, and raises its mmap threshold after
  // large frees, so request buffers and zlib windows end up in arenas it rarely gives back:
  // under load that held tens of MB. A fixed threshold of 32 KB puts body chunks and zlib
  // windows in their own mappings, returned to the kernel when freed: in a 60 s soak RSS ended
  // at 106 MB against 144 MB with 128 KB (the main arena alone held 47 MB, mostly holes), for
  // about one mmap per 50 pass-through requests (strace) and no measurable CPU.
  process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], {
    MALLOC_ARENA_MAX: '2',
    MALLOC_MMAP_THRESHOLD_: '32768',
    ...process.env,
  })
}
const { useStripCache } = await import('./strip-cache.js')
useStripCache()
await import('./cli.ts')
