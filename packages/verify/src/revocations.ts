import type { Fetch, IssuerMetadata } from './discovery.js';
import { trimIssuer } from './discovery.js';
import { RevokedSessions } from './revoked-sessions.js';
import { readEventStream } from './sse.js';

/** How the follower authenticates to the feed (a service account with `revocations:read`). */
export type RevocationCredentials =
  { clientId: string; clientSecret: string } | { token: () => Promise<string> };

export type RevocationFollowerOptions = RevocationCredentials & {
  /** The feed; defaults to `${issuer}/api/auth/revocations`. */
  url?: string;
  /** Milliseconds between polls while the live stream is unavailable (default 1000). */
  pollInterval?: number;
  /**
   * Seconds a revoked session is remembered at least (default 3600); longer when a token with
   * a longer lifetime has been seen, since its tokens stay unexpired that long.
   */
  retention?: number;
  /** At most this many revoked sessions are remembered (default 100 000); the oldest go first. */
  maxEntries?: number;
  /** How long a verification waits for the first read of the feed (ms, default 5000). */
  readyTimeout?: number;
  /** Told of every failure to reach the feed (it keeps retrying). */
  onError?: (error: unknown) => void;
};

export interface RevocationFollower {
  /** Whether this session was revoked (and is still remembered). */
  isRevoked(sessionId: string): boolean;
  /** Resolves once the feed has been read once; rejects after `readyTimeout` until then. */
  ready(): Promise<void>;
  /** The verifier reports each token's lifetime, so revocations are kept long enough. */
  sawTokenLifetime(seconds: number): void;
  /** How the feed is being read right now. */
  readonly mode: 'connecting' | 'stream' | 'poll';
  /** Stops following. */
  close(): Promise<void>;
}

interface FollowerContext {
  issuer: string;
  metadata: () => Promise<IssuerMetadata>;
  fetch: Fetch;
}

interface FeedItem {
  session_id: string;
  revoked_at: string;
}

const MAX_BACKOFF_MS = 30_000;
// After this many stream attempts in a row that failed, poll the JSON feed for a while: a
// proxy that buffers or cuts event streams should not leave the follower blind.
const STREAM_FAILURES_BEFORE_POLLING = 3;
const POLLS_BEFORE_RETRYING_STREAM = 60;

/**
 * Follows Hyperion's revocation feed: the live event stream (`Accept: text/event-stream`),
 * resumed with `Last-Event-ID` after a drop, with backoff; the JSON cursor endpoint polled
 * while streaming fails. Revoked session ids are remembered as long as their tokens can live.
 */
export function followRevocations(
  context: FollowerContext,
  options: RevocationFollowerOptions,
): RevocationFollower {
  const revoked = new RevokedSessions({
    minRetentionSeconds: options.retention ?? 3600,
    maxEntries: options.maxEntries ?? 100_000,
  });
  const url = options.url ?? `${trimIssuer(context.issuer)}/api/auth/revocations`;
  const pollInterval = options.pollInterval ?? 1_000;
  const stopped = new AbortController();
  const tokens = tokenSource(context, options);
  let cursor: string | undefined;
  let mode: RevocationFollower['mode'] = 'connecting';
  let markReady!: () => void;
  const firstRead = new Promise<void>((resolve) => (markReady = resolve));

  const record = (item: FeedItem) => revoked.add(item.session_id, Date.parse(item.revoked_at));

  /** One connection: true when it was a usable stream (or page), false when it failed. */
  async function readOnce(preferStream: boolean): Promise<{ retryMs?: number; streamed: boolean }> {
    const token = await tokens.get();
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      accept: preferStream ? 'text/event-stream' : 'application/json',
    };
    if (cursor && preferStream) headers['last-event-id'] = cursor;
    const query = cursor ? `?since=${encodeURIComponent(cursor)}` : '';
    const response = await context.fetch(`${url}${query}`, { headers, signal: stopped.signal });
    if (response.status === 401) tokens.drop();
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`Revocation feed: ${url} answered ${response.status}`);
    }
    if (response.headers.get('content-type')?.startsWith('text/event-stream') && response.body) {
      mode = 'stream';
      let retryMs: number | undefined;
      await readEventStream(response.body, {
        event: (event) => {
          if (event.event !== 'revoked') return;
          record(JSON.parse(event.data) as FeedItem);
          if (event.id) cursor = event.id;
        },
        // The server comments once the backlog is sent, then as its heartbeat.
        comment: () => markReady(),
        retry: (milliseconds) => (retryMs = milliseconds),
      });
      return { retryMs, streamed: true };
    }
    mode = 'poll';
    const page = (await response.json()) as { items: FeedItem[]; next_cursor: string };
    for (const item of page.items) record(item);
    cursor = page.next_cursor;
    markReady();
    // A full page: more wait, ask again at once.
    return { retryMs: page.items.length >= 500 ? 0 : pollInterval, streamed: false };
  }

  async function run(): Promise<void> {
    let backoff = 1_000;
    let streamFailures = 0;
    let pollsLeft = 0;
    while (!stopped.signal.aborted) {
      const preferStream = pollsLeft === 0;
      try {
        const { retryMs, streamed } = await readOnce(preferStream);
        if (streamed) streamFailures = 0;
        if (!preferStream) pollsLeft -= 1;
        backoff = 1_000;
        await sleep(retryMs ?? 1_000, stopped.signal);
      } catch (error) {
        if (stopped.signal.aborted) break;
        options.onError?.(error);
        if (preferStream && ++streamFailures >= STREAM_FAILURES_BEFORE_POLLING) {
          // Poll at once: the JSON feed may well get through where the stream did not.
          streamFailures = 0;
          pollsLeft = POLLS_BEFORE_RETRYING_STREAM;
          continue;
        }
        await sleep(backoff, stopped.signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  const running = run();
  const readyTimeout = options.readyTimeout ?? 5_000;
  let readyDone = false;
  void firstRead.then(() => (readyDone = true));
  // One wait shared by every verification that arrives before the first read.
  let waiting: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    if (readyDone) return Promise.resolve();
    waiting ??= Promise.race([
      firstRead,
      sleep(readyTimeout, stopped.signal).then(() => {
        if (!readyDone) throw new Error('The revocation feed has not been read yet');
      }),
    ]).finally(() => (waiting = undefined));
    return waiting;
  };

  return {
    isRevoked: (sessionId) => revoked.has(sessionId),
    ready,
    sawTokenLifetime: (seconds) => revoked.sawLifetime(seconds),
    get mode() {
      return mode;
    },
    close: async () => {
      stopped.abort();
      await running;
    },
  };
}

/** Resolves after `ms`, or at once when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A bearer token for the feed: the caller's, or one from client_credentials, kept until near expiry. */
function tokenSource(context: FollowerContext, options: RevocationCredentials) {
  if ('token' in options) return { get: options.token, drop: () => undefined };
  let kept: { token: string; until: number } | undefined;
  return {
    async get(): Promise<string> {
      if (kept && kept.until > Date.now()) return kept.token;
      const { token_endpoint: endpoint } = await context.metadata();
      if (!endpoint) throw new Error('The issuer names no token_endpoint');
      // client_secret_basic: each part form-encoded first (RFC 6749 §2.3.1).
      const basic = Buffer.from(
        `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`,
      ).toString('base64');
      const response = await context.fetch(endpoint, {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok)
        throw new Error(`client_credentials: ${endpoint} answered ${response.status}`);
      const body = (await response.json()) as { access_token: string; expires_in?: number };
      // Renewed a little before it expires; the server ends a stream at the token's expiry.
      const lifetime = Math.max((body.expires_in ?? 60) - 30, 5);
      kept = { token: body.access_token, until: Date.now() + lifetime * 1000 };
      return body.access_token;
    },
    drop: () => (kept = undefined),
  };
}
