/**
 * A background job run now and then every `intervalMs`, never two runs at once; it does not
 * keep a process (the CLI, a test) alive on its own. `stop` waits for a run in flight, so the
 * database can close after it.
 */
export class PeriodicJob {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  start(): void {
    if (this.#timer) return;
    const tick = () => {
      if (this.#running) return;
      this.#running = this.run()
        .catch((error: unknown) => this.onError(error))
        .finally(() => {
          this.#running = undefined;
        });
    };
    this.#timer = setInterval(tick, this.intervalMs);
    this.#timer.unref();
    tick();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
