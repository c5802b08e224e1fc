import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanUpAfter } from './cleanup.js';

/** A self-signed certificate for localhost, 127.0.0.1 and ::1, made with the openssl CLI. */
export interface TestCertificate {
  key: string;
  /** The certificate, which is also the trust anchor a client must be given. */
  cert: string;
}

let made: TestCertificate | undefined;

export function testCertificate(): TestCertificate {
  if (made) return made;
  const dir = mkdtempSync(join(tmpdir(), 'hyperion-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    made = {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
    return made;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export type Handler = (request: IncomingMessage, response: ServerResponse) => void;

export interface TestHttpsServer {
  /** https://localhost:<port> */
  origin: string;
  port: number;
  /** Trust anchor for clients of this server. */
  ca: string;
  /** Answers requests for this path (query included) with the handler. */
  on(path: string, handler: Handler): void;
  /** Every path requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** An https server on a free loopback port, closed after the file's tests. */
export async function startHttpsServer(): Promise<TestHttpsServer> {
  const { key, cert } = testCertificate();
  const handlers = new Map<string, Handler>();
  const requests: string[] = [];
  const server = createServer({ key, cert }, (request, response) => {
    const path = request.url ?? '/';
    requests.push(path);
    const handler = handlers.get(path);
    if (handler) return handler(request, response);
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  cleanUpAfter(close);
  return {
    origin: `https://localhost:${port}`,
    port,
    ca: cert,
    on: (path, handler) => handlers.set(path, handler),
    requests,
    close,
  };
}

/** A handler answering JSON with the given headers. */
export function json(body: unknown, headers: Record<string, string> = {}): Handler {
  return (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };
}
