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
await import('./cli.ts')
