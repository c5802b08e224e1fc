import { type EventSourceMessage, createParser } from 'eventsource-parser';

/**
 * An event stream read over real HTTP, parsed by `eventsource-parser` (an independent parser
 * of the WHATWG format): every event, comment and retry as they arrive.
 */
export interface OpenedStream {
  response: Response;
  events: EventSourceMessage[];
  comments: string[];
  retry: number | undefined;
  /** Resolves once the server has ended the stream. */
  ended: Promise<void>;
  /** Resolves (with ms waited) once `predicate` holds, or rejects after `limitMs`. */
  until(predicate: () => boolean, limitMs?: number): Promise<number>;
  close(): void;
}

export async function openEventStream(url: string, headers: Record<string, string>) {
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  });
  const stream: OpenedStream = {
    response,
    events: [],
    comments: [],
    retry: undefined,
    ended: Promise.resolve(),
    async until(predicate, limitMs = 5_000) {
      const started = Date.now();
      while (!predicate()) {
        if (Date.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return Date.now() - started;
    },
    close: () => abort.abort(),
  };
  const parser = createParser({
    onEvent: (event) => stream.events.push(event),
    onComment: (comment) => stream.comments.push(comment.trim()),
    onRetry: (retry) => (stream.retry = retry),
  });
  if (response.ok && response.body) {
    const body = response.body.pipeThrough(new TextDecoderStream());
    stream.ended = (async () => {
      try {
        for await (const chunk of body) parser.feed(chunk);
      } catch {
        // Aborted by the test.
      }
    })();
  }
  return stream;
}
