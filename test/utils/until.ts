/**
 * Polls `condition` (sync or async) every 10 ms until it holds; fails with `what` once `timeoutMs`
 * passed without it. The deadline guards against a hang, it bounds no speed: the condition is what
 * the test waits for, whatever the machine's load.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
