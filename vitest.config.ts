import { defineConfig } from 'vitest/config'

/**
 * Most integration files wait on real time (faults that last seconds, recoveries, browsers), so
 * three run at once even on two cores. Files that measure CPU or timing run afterwards, one at a
 * time, on a machine nothing else in the suite is loading (groupOrder 1, one worker).
 */
const MEASURING = [
  'test/integration/local-driver.test.ts', // CPU stress: a worker's CPU time over a wall-clock window
  'test/integration/bench-harness.test.ts', // the benchmark harness: CPU per request, RSS
  'test/integration/soak.test.ts',
  'test/integration/swaps-under-load.test.ts',
  'test/integration/grpc-h2.test.ts', // concurrent load, drain timeouts
  'test/integration/grpc.test.ts', // deadlines
  'test/integration/cli.test.ts', // the demo, against its own timeout
]
const PARALLEL = { maxWorkers: 3 }
const SERIAL = { maxWorkers: 1, sequence: { groupOrder: 1 } }

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], ...PARALLEL } },
      { test: { name: 'conformance', include: ['test/conformance/**/*.test.ts'], ...PARALLEL } },
      {
        // Property-based and framing fuzz: bounded here; `npm run fuzz` raises FAULTLINE_FUZZ_RUNS.
        test: {
          name: 'fuzz',
          include: ['test/fuzz/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 30_000,
          ...SERIAL,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: MEASURING,
          testTimeout: 30_000,
          hookTimeout: 30_000,
          ...PARALLEL,
        },
      },
      {
        test: {
          name: 'measuring',
          include: MEASURING,
          testTimeout: 30_000,
          hookTimeout: 30_000,
          ...SERIAL,
        },
      },
      {
        // The container image, built with buildah (dist/faultline-image.tar, rebuilt when older than
        // the sources: ~20-40 s) and run: `npm run test:image` runs only this project.
        test: {
          name: 'image',
          include: ['test/image/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 300_000,
          ...SERIAL,
        },
      },
    ],
  },
})
