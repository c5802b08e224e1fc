import { once } from 'node:events';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../../test/app.js';
import {
  DEFAULT_MAX_DISCARD_BYTES,
  type LingeringCloseOptions,
  installLingeringClose,
} from './lingering-close.js';

// Over a real socket, because the failure lives in TCP: the server answering and closing while
// the client still sends makes the client's kernel see a reset, and the answer is lost.

const MB = 1024 * 1024;
const CHUNK = 64 * 1024;

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface Exchange {
  /** The first response, if one arrived whole. */
  answer: Answer | undefined;
  /** Body bytes the client managed to hand to its kernel. */
  written: number;
  /** The error the client's socket ended with (EPIPE, ECONNRESET), if any. */
  error: string | undefined;
  /** The server ended the connection (its FIN arrived), rather than keeping it for another request. */
  ended: boolean;
}

function parseAnswer(raw: Buffer): Answer | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? '0');
  if (raw.length < end + 4 + length) return undefined;
  const body = raw.subarray(end + 4, end + 4 + length).toString('utf8');
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

/** Chunked transfer-encoding of a body, in pieces of CHUNK bytes. */
function* chunked(pieces: Iterable<Buffer>): Generator<Buffer> {
  for (const piece of pieces) {
    yield Buffer.from(`${piece.length.toString(16)}\r\n`, 'latin1');
    yield piece;
    yield Buffer.from('\r\n', 'latin1');
  }
  yield Buffer.from('0\r\n\r\n', 'latin1');
}

/** `total` bytes of the body, split in CHUNK-sized pieces (endless when total is Infinity). */
function* bodyPieces(prefix: string, total: number): Generator<Buffer> {
  let sent = 0;
  const head = Buffer.from(prefix, 'latin1');
  yield head;
  sent += head.length;
  const filler = Buffer.alloc(CHUNK, 'a');
  while (sent < total) {
    const size = Math.min(CHUNK, total - sent);
    yield size === CHUNK ? filler : filler.subarray(0, size);
    sent += size;
  }
}

interface SendOptions {
  method?: string;
  path: string;
  contentType: string;
  /** Body size in bytes; Infinity sends forever (only with chunked). */
  size: number;
  chunked: boolean;
  headers?: Record<string, string>;
  /** Read while writing (true), or write the whole body before reading anything (false). */
  readWhileWriting: boolean;
  /** Give up writing after this long (the endless bodies). */
  writeForMs?: number;
}

/** A client on a slow link is still sending when the answer comes: it pauses after this much. */
const PAUSE_AFTER = 256 * 1024;
const PAUSE_MS = 150;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const PREFIX: Record<string, string> = {
  'application/json': '{"email":"big@example.com","password":"',
  'application/x-www-form-urlencoded': 'grant_type=password&username=big%40example.com&password=',
};

/**
 * Sends a request with a large body as a plain client would: headers, then the body as fast as
 * the connection takes it. The response is read either alongside or only once everything is
 * written (as curl, many HTTP libraries and proxies do).
 */
async function send(port: number, options: SendOptions): Promise<Exchange> {
  // Half-open allowed: like a client busy uploading, it keeps sending after the server's FIN.
  const socket: Socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  const exchange: Exchange = { answer: undefined, written: 0, error: undefined, ended: false };
  const received: Buffer[] = [];
  const read = () => {
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      exchange.answer ??= parseAnswer(Buffer.concat(received));
    });
  };
  // Settles once the connection is broken (reset, write failure) or fully closed; the
  // server's FIN alone (end) does not stop a half-open client from writing.
  const broken = new Promise<void>((resolve) => {
    socket.on('error', (error: NodeJS.ErrnoException) => {
      exchange.error ??= error.code ?? error.message;
      resolve();
    });
    socket.on('close', () => resolve());
  });
  const finned = new Promise<void>((resolve) =>
    socket.on('end', () => {
      exchange.ended = true;
      resolve();
    }),
  );
  const drained = () =>
    Promise.race([new Promise<void>((resolve) => socket.once('drain', resolve)), broken]);
  const flushed = () =>
    Promise.race([new Promise<void>((resolve) => socket.write('', () => resolve())), broken]);
  if (options.readWhileWriting) read();

  const framing = options.chunked
    ? { 'transfer-encoding': 'chunked' }
    : { 'content-length': String(options.size) };
  const head = Object.entries({
    host: '127.0.0.1',
    'content-type': options.contentType,
    ...framing,
    ...options.headers,
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(`${options.method ?? 'POST'} ${options.path} HTTP/1.1\r\n${head}\r\n`);

  const pieces = bodyPieces(PREFIX[options.contentType] ?? '', options.size);
  const deadline = Date.now() + (options.writeForMs ?? 60_000);
  let paused = false;
  for (const piece of options.chunked ? chunked(pieces) : pieces) {
    if (socket.destroyed || exchange.error || Date.now() > deadline) break;
    if (!socket.write(piece)) await drained();
    exchange.written += piece.length;
    if (!paused && exchange.written >= PAUSE_AFTER) {
      paused = true;
      await flushed();
      await sleep(PAUSE_MS);
    }
  }
  // Wait until the last bytes are handed to the kernel (or the write fails), then read.
  if (!socket.destroyed && !exchange.error) await flushed();
  if (!options.readWhileWriting) read();

  // A kept-alive answer leaves the connection open: stop once the answer is whole.
  const whole = new Promise<void>((resolve) => {
    const check = () => {
      if (exchange.answer) resolve();
    };
    check();
    socket.on('data', check);
  });
  await Promise.race([whole, broken, finned, sleep(15_000)]);
  // Give a connection the server means to close a moment to do so.
  if (exchange.answer?.headers['connection'] === 'close')
    await Promise.race([finned, broken, sleep(5_000)]);
  socket.destroy();
  return exchange;
}

function expectProblem(exchange: Exchange, status: number, code: string): void {
  expect(exchange.error, 'the client saw its connection broken').toBeUndefined();
  expect(exchange.answer, 'no answer arrived').toBeDefined();
  const answer = exchange.answer as Answer;
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(answer.body) as { code: string; status: number; request_id: string };
  expect(problem).toMatchObject({ status, code });
  expect(problem.request_id).toBe(answer.headers['x-request-id']);
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

describe('a request whose body is not read before the answer', () => {
  let test: TestApp;
  let port: number;
  beforeAll(async () => {
    test = await startTestApp();
    await test.app.listen({ port: 0, host: '127.0.0.1' });
    port = portOf(test.app.server);
  });
  afterAll(async () => {
    await test.close();
  });

  const ROUTES = [
    '/api/auth/signup',
    '/api/auth/password/forgot',
    '/api/auth/password/reset',
    '/api/auth/email/verify',
    '/api/auth/mfa/verify',
  ];
  const FRAMINGS = [
    ['Content-Length', false],
    ['chunked', true],
  ] as const;

  describe.each(FRAMINGS)('a 2 MB body with %s, written whole before reading', (_, isChunked) => {
    const twoMegabytes = (path: string, contentType: string): SendOptions => ({
      path,
      contentType,
      size: 2 * MB,
      chunked: isChunked,
      readWhileWriting: false,
    });

    it.each(ROUTES)('%s answers 413 payload_too_large to JSON', async (path) => {
      const exchange = await send(port, twoMegabytes(path, 'application/json'));
      expectProblem(exchange, 413, 'payload_too_large');
      expect(exchange.written).toBeGreaterThanOrEqual(2 * MB);
      // The answer says the connection closes, and it does (a FIN, not a reset).
      expect(exchange.answer?.headers['connection']).toBe('close');
      expect(exchange.ended).toBe(true);
    });

    // Only the token endpoint speaks form encoding: elsewhere the type is refused, before the
    // body is read (an early answer too, on a kept-alive connection).
    it.each(ROUTES)('%s answers 415 unsupported_media_type to a form', async (path) => {
      const exchange = await send(port, twoMegabytes(path, 'application/x-www-form-urlencoded'));
      expectProblem(exchange, 415, 'unsupported_media_type');
    });

    // The token endpoint answers in the OAuth error format (API.md), not with a problem.
    it.each(['application/json', 'application/x-www-form-urlencoded'])(
      '/api/auth/token answers 413 with its OAuth invalid_request to %s',
      async (contentType) => {
        const exchange = await send(port, twoMegabytes('/api/auth/token', contentType));
        expect(exchange.error, 'the client saw its connection broken').toBeUndefined();
        expect(exchange.answer?.status).toBe(413);
        expect(exchange.answer?.headers['content-type']).toMatch(/^application\/json/);
        expect(JSON.parse(exchange.answer?.body ?? '{}')).toMatchObject({
          error: 'invalid_request',
          error_description: 'The request body is too large',
        });
        expect(exchange.ended).toBe(true);
      },
    );
  });

  // Fastify reads an unknown route's body through the same parsers, so the size is refused
  // first.
  it('answers 413 to an unknown route with a 2 MB body', async () => {
    const exchange = await send(port, {
      path: '/api/auth/no-such-route',
      contentType: 'application/json',
      size: 2 * MB,
      chunked: false,
      readWhileWriting: false,
    });
    expectProblem(exchange, 413, 'payload_too_large');
  });

  it('answers 401 from the authentication hook, before the body is read', async () => {
    const exchange = await send(port, {
      path: '/api/auth/mfa/totp/setup',
      contentType: 'application/json',
      size: 2 * MB,
      chunked: true,
      readWhileWriting: false,
    });
    expectProblem(exchange, 401, 'unauthorized');
  });

  it('answers a client that asked for the connection to close (Connection: close)', async () => {
    for (const [path, status] of [
      ['/api/auth/mfa/totp/setup', 401],
      ['/api/auth/signup', 413],
    ] as const) {
      const exchange = await send(port, {
        path,
        contentType: 'application/json',
        size: 2 * MB,
        chunked: false,
        headers: { connection: 'close' },
        readWhileWriting: false,
      });
      expect(exchange.error, path).toBeUndefined();
      expect(exchange.answer?.status, path).toBe(status);
      expect(exchange.ended, path).toBe(true);
    }
  });

  describe('far beyond the discard bound', () => {
    // Written beyond the bound before the reset reaches the client: what the two kernels'
    // buffers (large on loopback) and the client's own queue hold.
    const SLACK = 64 * MB;

    it.each(FRAMINGS)(
      'a client reading as it writes gets the 413, then the connection is cut (%s)',
      async (_, isChunked) => {
        const exchange = await send(port, {
          path: '/api/auth/signup',
          contentType: 'application/json',
          size: isChunked ? Infinity : 200 * MB,
          chunked: isChunked,
          readWhileWriting: true,
          writeForMs: 30_000,
        });
        expect(exchange.answer?.status).toBe(413);
        expect(exchange.error).toMatch(/^(EPIPE|ECONNRESET)$/);
        expect(exchange.written).toBeGreaterThan(DEFAULT_MAX_DISCARD_BYTES);
        expect(exchange.written).toBeLessThan(DEFAULT_MAX_DISCARD_BYTES + SLACK);
      },
    );

    it('a client writing without reading has its connection cut', async () => {
      const exchange = await send(port, {
        path: '/api/auth/signup',
        contentType: 'application/json',
        size: Infinity,
        chunked: true,
        readWhileWriting: false,
        writeForMs: 30_000,
      });
      expect(exchange.error).toMatch(/^(EPIPE|ECONNRESET)$/);
      expect(exchange.written).toBeLessThan(DEFAULT_MAX_DISCARD_BYTES + SLACK);
    });
  });
});

describe('the per-address auth rate limit, refused before the body is read', () => {
  it('answers 429 rate_limited to a 2 MB body', async () => {
    const test = await startTestApp({
      env: { RATE_LIMIT: 'on', RATE_LIMIT_AUTH_PER_MINUTE: '1' },
      redis: false,
    });
    await test.app.listen({ port: 0, host: '127.0.0.1' });
    const request: SendOptions = {
      path: '/api/auth/password/forgot',
      contentType: 'application/json',
      size: 2 * MB,
      chunked: false,
      readWhileWriting: false,
    };
    await send(portOf(test.app.server), request);
    const exchange = await send(portOf(test.app.server), { ...request, chunked: true });
    expectProblem(exchange, 429, 'rate_limited');
  });
});

describe('shutdown', () => {
  it('does not wait for a connection still sending the body of an answered request', async () => {
    const test = await startTestApp();
    await test.app.listen({ port: 0, host: '127.0.0.1' });
    const socket = connect({
      port: portOf(test.app.server),
      host: '127.0.0.1',
      allowHalfOpen: true,
    });
    socket.on('error', () => undefined);
    socket.write(
      'POST /api/auth/signup HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n' +
        `content-length: ${100 * MB}\r\n\r\n{"email":"`,
    );
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    await once(socket, 'end');
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    const started = Date.now();
    await test.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    socket.destroy();
  });
});

describe('installLingeringClose on a bare server', () => {
  const servers: Server[] = [];
  async function serve(
    options: LingeringCloseOptions,
    handler: (req: IncomingMessage, res: ServerResponse) => void = refuse,
  ) {
    const server = createServer(handler);
    const lingering = installLingeringClose(server, options);
    servers.push(server);
    // The server's side of the connection: whether and when it closed is seen here (the
    // client, having had our FIN, learns of the close only by writing again).
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connect({ port: portOf(server), host: '127.0.0.1', allowHalfOpen: true });
    client.on('error', () => undefined);
    let received = '';
    client.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const serverSide = await accepted;
    return { client, serverSide, lingering, received: () => received };
  }
  // Answers at once, reading nothing, and closes (as Fastify does when a body is too large).
  function refuse(_req: IncomingMessage, res: ServerResponse) {
    res.writeHead(413, { connection: 'close', 'content-length': '2' }).end('no');
  }
  const HEAD = 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n';

  afterAll(() => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  });

  it('half-closes after the answer and closes once the body is in', async () => {
    const { client, serverSide, received } = await serve({});
    client.write(`POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 6\r\n\r\nabc`);
    await once(client, 'end');
    expect(received()).toMatch(/^HTTP\/1\.1 413 [^]*\r\n\r\nno$/);
    expect(serverSide.destroyed).toBe(false);
    client.write('def');
    await once(serverSide, 'close');
  });

  it('closes a connection that stalls mid-body once the idle bound passes', async () => {
    const { client, serverSide, received } = await serve({ maxIdleMs: 300 });
    const started = Date.now();
    client.write(`${HEAD}abc`);
    await once(serverSide, 'close');
    expect(received()).toMatch(/^HTTP\/1\.1 413 /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('closes a connection that trickles its body once the time bound passes', async () => {
    const { client, serverSide } = await serve({ maxLingerMs: 500, maxIdleMs: 60_000 });
    const started = Date.now();
    client.write(`${HEAD}abc`);
    const trickle = setInterval(() => client.write('x'), 50);
    await once(serverSide, 'close');
    clearInterval(trickle);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('cuts a connection once the byte bound is discarded', async () => {
    const { client, serverSide } = await serve({ maxDiscardBytes: 100_000 });
    client.write(HEAD);
    let closed = false;
    serverSide.on('close', () => (closed = true));
    let written = 0;
    while (!closed && written < 1_000_000) {
      client.write(Buffer.alloc(10_000, 'a'));
      written += 10_000;
      await sleep(2);
    }
    expect(closed).toBe(true);
    expect(written).toBeLessThan(1_000_000);
  });

  it('ends the connections still discarding when asked (shutdown)', async () => {
    const { client, serverSide, lingering } = await serve({});
    client.write(`${HEAD}abc`);
    await once(client, 'end');
    lingering.closeAll();
    await once(serverSide, 'close');
  });

  it('keeps a kept-alive connection usable once the rest of the body arrived', async () => {
    const { client, received } = await serve({}, (_req, res) => {
      res.writeHead(401, { 'content-length': '2' }).end('no');
    });
    client.write('POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 6\r\n\r\nabc');
    while (!received().includes('no')) await once(client, 'data');
    client.write('def');
    client.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    while (received().split('HTTP/1.1 401').length < 3) await once(client, 'data');
    expect(client.destroyed).toBe(false);
    client.destroy();
  });
});
