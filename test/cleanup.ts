import { afterAll, expect, onTestFinished } from 'vitest';

/**
 * Runs `cleanUp` when the test that called it ends, or — called at file or describe level —
 * after the file's tests. `afterAll` alone would do for the latter only: registered inside a
 * test it never runs, and the app, database or process it should stop would outlive the run.
 */
export function cleanUpAfter(cleanUp: () => unknown): void {
  if (expect.getState().currentTestName !== undefined)
    onTestFinished(async () => void (await cleanUp()));
  else afterAll(async () => void (await cleanUp()));
}
