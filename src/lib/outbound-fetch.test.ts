import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { cleanUpAfter } from '../../test/cleanup.js';
import { json, startHttpsServer } from '../../test/https-server.js';
import { OutboundFetchError, createOutboundFetcher } from './outbound-fetch.js';

const request = { maxBytes: 5 * 1024, timeoutMs: 2_000 };

async function failure(promise: Promise<unknown>): Promise<OutboundFetchError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(OutboundFetchError);
  return error as OutboundFetchError;
}

describe('outbound fetch', async () => {
  const server = await startHttpsServer();
  server.on('/doc', json({ hello: 'world' }, { 'cache-control': 'max-age=60' }));
  const open = createOutboundFetcher({ allowPrivate: true, ca: server.ca });
  const guarded = createOutboundFetcher({ allowPrivate: false, ca: server.ca });

  it('fetches over https with allowPrivate, and answers status, headers and body', async () => {
    const response = await open.get(`${server.origin}/doc`, request);
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('max-age=60');
    expect(JSON.parse(response.body.toString('utf8'))).toEqual({ hello: 'world' });
  });

  it('refuses a name that resolves to loopback (localhost) without allowPrivate, before connecting', async () => {
    const before = server.requests.length;
    const error = await failure(guarded.get(`${server.origin}/doc`, request));
    expect(error.reason).toBe('private_address');
    expect(error.message).toMatch(/localhost resolves to (127\.0\.0\.1|::1)/);
    expect(server.requests.length).toBe(before);
  });

  it.each(['127.0.0.1', '[::1]', '169.254.169.254', '10.0.0.1', '[::ffff:127.0.0.1]', '0.0.0.0'])(
    'refuses the address literal %s without allowPrivate',
    async (host) => {
      const error = await failure(guarded.get(`https://${host}:${server.port}/doc`, request));
      expect(error.reason).toBe('private_address');
    },
  );

  it('fetches a loopback address literal with allowPrivate', async () => {
    const response = await open.get(`https://127.0.0.1:${server.port}/doc`, request);
    expect(response.status).toBe(200);
  });

  it('checks the certificate against the system roots unless given a trust anchor', async () => {
    const untrusting = createOutboundFetcher({ allowPrivate: true });
    const error = await failure(untrusting.get(`${server.origin}/doc`, request));
    expect(error.reason).toBe('network');
  });

  it('refuses http unless the caller allows it', async () => {
    const plain = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    cleanUpAfter(() => new Promise((resolve) => plain.close(resolve)));
    const url = `http://localhost:${(plain.address() as AddressInfo).port}/`;
    expect((await failure(open.get(url, request))).reason).toBe('scheme');
    expect((await open.get(url, { ...request, schemes: ['http:'] })).status).toBe(200);
    // Allowing http does not allow private addresses.
    const error = await failure(guarded.get(url, { ...request, schemes: ['http:'] }));
    expect(error.reason).toBe('private_address');
  });

  it('does not follow a redirect', async () => {
    server.on('/moved', (_request, response) => {
      response.writeHead(302, { location: '/doc' }).end();
    });
    const before = server.requests.length;
    const error = await failure(open.get(`${server.origin}/moved`, request));
    expect(error.reason).toBe('redirect');
    expect(server.requests.slice(before)).toEqual(['/moved']);
  });

  it('refuses an answer over the size cap, declared or streamed', async () => {
    const big = 'x'.repeat(6 * 1024);
    server.on('/big', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(big));
    });
    server.on('/big-chunked', (_request, response) => {
      // No Content-Length: the cap must be counted as the body streams.
      response.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < 12; i++) response.write('x'.repeat(1024));
      response.end();
    });
    expect((await failure(open.get(`${server.origin}/big`, request))).reason).toBe('too_large');
    expect((await failure(open.get(`${server.origin}/big-chunked`, request))).reason).toBe(
      'too_large',
    );
    // Exactly at the cap is fine.
    server.on('/exact', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end('y'.repeat(5 * 1024));
    });
    expect((await open.get(`${server.origin}/exact`, request)).body.length).toBe(5 * 1024);
  });

  it('gives up at the deadline, whether the headers or the body are slow', async () => {
    server.on('/silent', () => {});
    server.on('/trickle', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{');
    });
    const fast = { ...request, timeoutMs: 300 };
    const started = Date.now();
    expect((await failure(open.get(`${server.origin}/silent`, fast))).reason).toBe('timeout');
    expect((await failure(open.get(`${server.origin}/trickle`, fast))).reason).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('requires the content type asked for on a success', async () => {
    server.on('/html', (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi</p>');
    });
    const asJson = { ...request, contentTypes: ['application/json'] };
    expect((await failure(open.get(`${server.origin}/html`, asJson))).reason).toBe('content_type');
    // Parameters do not matter; the status of a failure is the caller's to judge.
    server.on('/json-utf8', json({}, { 'content-type': 'application/json; charset=utf-8' }));
    expect((await open.get(`${server.origin}/json-utf8`, asJson)).status).toBe(200);
    expect((await open.get(`${server.origin}/missing`, asJson)).status).toBe(404);
  });

  it('refuses what is not a URL', async () => {
    expect((await failure(open.get('not a url', request))).reason).toBe('invalid_url');
  });
});
