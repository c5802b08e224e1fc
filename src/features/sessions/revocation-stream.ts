import type { ServerResponse } from 'node:http';
import type { RevocationWaker } from './revocation-waker.js';
import type { RevocationEntries } from './sessions.types.js';

export interface RevocationStreamOptions {
  /** The hijacked response; its headers are not sent yet. */
  res: ServerResponse;
  /** Headers already set on the reply (request id, security headers). */
  headers: Record<string, string | number | string[]>;
  /** The first page (read before the response was taken over, so a bad cursor was a 400). */
  first: RevocationEntries;
  read: (cursor: string) => Promise<RevocationEntries>;
  pageSize: number;
  waker: RevocationWaker;
  /** The reader's own session (a user token): its revocation ends the stream. */
  ownSessionId: string | undefined;
  /** Whether the reader's token is still good (account, session, scope); false ends the stream. */
  stillAllowed: () => Promise<boolean>;
  /** Milliseconds until the token expires: the stream ends then. */
  expiresInMs: number;
  heartbeatMs: number;
  onEnd: () => void;
}

/** The reconnection delay the client is told (`retry:`), in milliseconds. */
export const RECONNECT_MS = 1_000;
// A reader that does not keep up is cut off (it resumes with Last-Event-ID) rather than
// have this instance buffer for it without bound.
const MAX_BUFFERED_BYTES = 1_000_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One live revocation stream (Server-Sent Events): each revoked session is an event
 * `id: <cursor after it>` / `event: revoked` / `data: {"session_id","revoked_at"}`; the
 * backlog first, then a comment, then new revocations as the waker signals them, and a
 * comment as heartbeat.
 */
export class RevocationStream {
  #cursor: string;
  #pumping = false;
  #again = false;
  #ended = false;
  readonly #timers: NodeJS.Timeout[] = [];
  #unsubscribe: (() => void) | undefined;

  constructor(private readonly options: RevocationStreamOptions) {
    this.#cursor = options.first.next_cursor;
  }

  get ended(): boolean {
    return this.#ended;
  }

  start(): void {
    const { res, headers, first } = this.options;
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // nginx and similar proxies would otherwise buffer the stream.
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    res.on('close', () => this.end());
    // Subscribed before anything is sent: a revocation from here on wakes the pump below,
    // which reads from the first page's end, so nothing falls between.
    this.#unsubscribe = this.options.waker.subscribe(() => void this.#pump());
    this.#write(`retry: ${RECONNECT_MS}\n\n`);
    this.#send(first);
    this.#write(': backlog sent\n\n');
    this.#timers.push(
      setTimeout(() => this.end(), Math.min(Math.max(this.options.expiresInMs, 0), MAX_TIMER_MS)),
      setInterval(() => void this.#heartbeat(), this.options.heartbeatMs),
    );
    void this.#pump();
  }

  /** Ends the stream (token expired or revoked, reader gone, shutdown). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#unsubscribe?.();
    if (!this.options.res.writableEnded) this.options.res.end();
    this.options.onEnd();
  }

  async #heartbeat(): Promise<void> {
    this.#write(': heartbeat\n\n');
    if (!(await this.options.stillAllowed().catch(() => false))) this.end();
  }

  /** Reads the feed from the cursor to its end; a wake during a read reads again after. */
  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        let page: RevocationEntries;
        do {
          if (this.#ended) return;
          page = await this.options.read(this.#cursor);
          this.#send(page);
        } while (page.items.length >= this.options.pageSize);
      } while (this.#again);
    } catch {
      // The database did not answer: the reader reconnects with Last-Event-ID.
      this.end();
    } finally {
      this.#pumping = false;
    }
  }

  #send(page: RevocationEntries): void {
    for (const { cursor, ...item } of page.items) {
      this.#write(`id: ${cursor}\nevent: revoked\ndata: ${JSON.stringify(item)}\n\n`);
      if (item.session_id === this.options.ownSessionId) return this.end();
    }
    this.#cursor = page.next_cursor;
  }

  #write(text: string): void {
    if (this.#ended) return;
    const { res } = this.options;
    res.write(text);
    if (res.writableLength > MAX_BUFFERED_BYTES) this.end();
  }
}
