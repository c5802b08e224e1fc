/** One Server-Sent Event (the WHATWG HTML "event stream" format). */
export interface ServerSentEvent {
  id: string | undefined;
  event: string;
  data: string;
}

export interface EventStreamHandlers {
  event(event: ServerSentEvent): void;
  /** A `:` comment line (Hyperion sends one after the backlog, and as the heartbeat). */
  comment?(text: string): void;
  /** A `retry:` field: the reconnection delay the server asks for, in milliseconds. */
  retry?(milliseconds: number): void;
}

/**
 * Reads an event stream to its end, calling the handlers as events complete. Lines end with
 * CRLF, LF or CR; an event is dispatched at a blank line; `data` lines are joined by LF.
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  handlers: EventStreamHandlers,
): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  let pending: { id?: string; event?: string; data: string[] } = { data: [] };
  const line = (text: string) => {
    if (text === '') {
      if (pending.data.length > 0)
        handlers.event({
          id: pending.id,
          event: pending.event ?? 'message',
          data: pending.data.join('\n'),
        });
      pending = { data: [] };
      return;
    }
    if (text.startsWith(':')) return handlers.comment?.(text.slice(1).trim());
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') pending.data.push(value);
    else if (field === 'event') pending.event = value;
    else if (field === 'id' && !value.includes('\0')) pending.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) handlers.retry?.(Number(value));
  };
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      // A CR at the end may be the first half of a CRLF: kept until the next chunk says.
      const held = buffer.endsWith('\r') ? '\r' : '';
      const lines = (held ? buffer.slice(0, -1) : buffer).split(/\r\n|\r|\n/);
      // The last piece is an unfinished line.
      buffer = (lines.pop() ?? '') + held;
      for (const text of lines) line(text);
    }
  } finally {
    reader.releaseLock();
  }
}
