import { describe, expect, it } from 'vitest';
import { type ServerSentEvent, challenge, readEventStream, VerifyError } from '../src/index.js';
import { RevokedSessions } from '../src/revoked-sessions.js';

// The kit's small parts on their own: what the HTTP tests cannot easily reach.

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

describe('readEventStream', () => {
  it('reads events, comments and retry however the bytes are split (CRLF across chunks too)', async () => {
    const events: ServerSentEvent[] = [];
    const comments: string[] = [];
    const retries: number[] = [];
    await readEventStream(
      streamOf([
        'retry: 1000\r',
        '\n\r\n: backlog sent\r\n\r\nid: c1\r\nevent: revoked\r\ndata: {"a"',
        ':1}\r\n\r',
        '\nid: c2\nevent: revoked\ndata: line one\ndata: line two\n\n',
        'data: no blank line at the end is not an event',
      ]),
      {
        event: (event) => events.push(event),
        comment: (text) => comments.push(text),
        retry: (ms) => retries.push(ms),
      },
    );
    expect(retries).toEqual([1000]);
    expect(comments).toEqual(['backlog sent']);
    expect(events).toEqual([
      { id: 'c1', event: 'revoked', data: '{"a":1}' },
      { id: 'c2', event: 'revoked', data: 'line one\nline two' },
    ]);
  });
});

describe('RevokedSessions', () => {
  it('forgets the oldest past maxEntries, and revocations older than the longest lifetime', () => {
    const revoked = new RevokedSessions({ minRetentionSeconds: 60, maxEntries: 2 });
    const now = Date.now();
    revoked.add('old', now - 120_000);
    expect(revoked.has('old')).toBe(false);
    revoked.sawLifetime(300);
    revoked.add('old', now - 120_000);
    expect(revoked.has('old')).toBe(true);
    revoked.add('b', now);
    revoked.add('c', now);
    expect([revoked.has('old'), revoked.has('b'), revoked.has('c')]).toEqual([false, true, true]);
  });
});

describe('challenge', () => {
  it('escapes quotes and backslashes in its quoted strings', () => {
    const error = new VerifyError('insufficient_scope', 'x', ['a"b\\c']);
    expect(challenge(error, { resourceMetadataUrl: 'https://api.example.com/m' })).toBe(
      'Bearer error="insufficient_scope", scope="a\\"b\\\\c", resource_metadata="https://api.example.com/m"',
    );
  });
});
