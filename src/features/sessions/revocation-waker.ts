/** Where revocations are announced in this process: SessionGuard.onRevoked. */
export interface RevocationSignals {
  onRevoked(listener: (sessionIds: readonly string[]) => void): () => void;
}

export interface RevocationWakerOptions {
  signals: RevocationSignals;
  /** The feed's current end (SessionsService.newestRevocationCursor). */
  newestCursor: () => Promise<string | undefined>;
  /** How often the feed's end is read while anyone listens (default READ_INTERVAL_MS). */
  intervalMs?: number;
  onError?: (error: unknown) => void;
}

// Twice a second, so that a revocation on an instance this one hears nothing from (no Redis)
// reaches its readers within a second, the timer's wait and the reads included.
const READ_INTERVAL_MS = 500;

/**
 * Wakes the live revocation streams of this instance when the feed may have grown: at once on
 * a revocation announced here or through the broadcast (Redis), and otherwise when a timer's
 * read of the feed's end finds it moved — which covers instances without Redis and messages
 * lost while it was down. The database stays the truth: a woken stream re-reads the feed from
 * its own cursor. Two small reads a second per instance while streams are open, none when there are
 * none, however many streams there are.
 */
export class RevocationWaker {
  readonly #listeners = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #lastSeen: string | undefined | null = null;
  #reading = false;

  constructor(private readonly options: RevocationWakerOptions) {}

  /** Calls `wake` whenever the feed may have grown, until the returned function is called. */
  subscribe(wake: () => void): () => void {
    this.#listeners.add(wake);
    if (this.#listeners.size === 1) this.#start();
    return () => {
      this.#listeners.delete(wake);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  #start(): void {
    this.#unsubscribe = this.options.signals.onRevoked(() => this.#wakeAll());
    this.#timer = setInterval(
      () => void this.#readEnd(),
      this.options.intervalMs ?? READ_INTERVAL_MS,
    );
    this.#timer.unref();
  }

  #stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearInterval(this.#timer);
    this.#timer = undefined;
    // Unknown again: whoever subscribes next is woken by the first read.
    this.#lastSeen = null;
  }

  async #readEnd(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      const end = await this.options.newestCursor();
      if (end !== this.#lastSeen) {
        this.#lastSeen = end;
        this.#wakeAll();
      }
    } catch (error) {
      this.options.onError?.(error);
    } finally {
      this.#reading = false;
    }
  }

  #wakeAll(): void {
    for (const wake of [...this.#listeners]) wake();
  }
}
