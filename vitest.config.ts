import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs no privileges (codecs, simulations on the virtual clock,
// the in-memory link); `tap` talks to the Linux kernel through real TAP devices inside
// network namespaces and needs root. See test/tap/support/gate.ts for the skip rule.
export default defineConfig({
  test: {
    // In CI, also a JSON report, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'vitest-report.json' }]] : ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          // test/package/*.test.ts: the prebuilt addon, the API docs, the examples over memory.
          include: ['test/unit/**/*.test.ts', 'test/sim/**/*.test.ts', 'test/package/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'tap',
          // test/package/tap/: the TAP example, and the install as a non-root user (needs root to switch).
          // test/conformance: crafted frames against our stack and Linux (issue 12).
          include: ['test/tap/**/*.test.ts', 'test/package/tap/**/*.test.ts', 'test/conformance/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // Real devices, namespaces and kernel peers: one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
