/** Polls (bounded, real time) until `condition` holds; false if it never did. */
export async function eventually(
  condition: () => Promise<boolean> | boolean,
  limitMs = 5_000,
): Promise<boolean> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}
