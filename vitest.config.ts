import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The examples import the kit by its published name: its source here, whether or not
    // npm has linked the workspace into node_modules yet.
    alias: {
      '@hyperion-auth/verify': fileURLToPath(
        new URL('./packages/verify/src/index.ts', import.meta.url),
      ),
    },
  },
  test: {
    include: [
      'src/**/*.test.ts',
      'test/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'examples/**/*.test.ts',
    ],
    globalSetup: ['test/global-setup.ts'],
    // Each file gets its own database, so files run in parallel; most of the time is I/O
    // and hashing off the main thread, so more workers than cores pays.
    pool: 'forks',
    maxWorkers: 4,
    minWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
