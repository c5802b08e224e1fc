import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedInUser } from '../../../test/app.js';
import { freePort } from '../../../test/free-port.js';
import { type OidcTestApp, startOidcApp } from '../../../test/oidc.js';
import { reportsApi as expressReportsApi } from '../../../examples/verify/express.js';
import { reportsApi as fastifyReportsApi } from '../../../examples/verify/fastify.js';
import { reportsServer } from '../../../examples/verify/node.js';
import { registerResource, resourceToken, serviceAccount } from './kit.js';

// The examples the READMEs quote, run as written against the service: what a reader copies
// is what was tested.

const RESOURCE = 'https://reports.example.com/api';
const root = new URL('../../../', import.meta.url);
const source = (path: string) => readFile(new URL(path, root), 'utf8');

let t: OidcTestApp;
beforeAll(async () => {
  t = await startOidcApp();
  await registerResource(t, RESOURCE, ['reports:read', 'reports:write']);
});
afterAll(async () => t.close());

const get = (origin: string, token?: string) =>
  fetch(`${origin}/api/reports`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

async function listen(server: Server): Promise<{ origin: string; close: () => Promise<void> }> {
  const port = await freePort();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('the README examples', () => {
  it('are quoted verbatim', async () => {
    const readme = await source('README.md');
    const kitReadme = await source('packages/verify/README.md');
    expect(readme).toContain((await source('examples/verify/fastify.ts')).trim());
    for (const example of ['fastify', 'express', 'node'])
      expect(kitReadme).toContain((await source(`examples/verify/${example}.ts`)).trim());
  });

  it('Fastify: 401 with the challenge, 200 for a good token, refused within 1 s of sign-out', async () => {
    const account = await serviceAccount(t, ['revocations:read']);
    const app = await fastifyReportsApi({
      issuer: t.issuer,
      resource: RESOURCE,
      feed: { clientId: account.client_id, clientSecret: account.client_secret },
    });
    const port = await freePort();
    await app.listen({ port, host: '127.0.0.1' });
    const origin = `http://127.0.0.1:${port}`;
    try {
      const anonymous = await get(origin);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe(
        'Bearer resource_metadata="https://reports.example.com/.well-known/oauth-protected-resource/api", scope="reports:read"',
      );
      const person = await signedInUser(t.app);
      const sid = JSON.parse(
        Buffer.from(person.tokens.access_token.split('.')[1]!, 'base64url').toString(),
      )['sid'] as string;
      const token = await resourceToken(t, RESOURCE, { scope: 'reports:read', sid });
      const ok = await get(origin, token);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ scopes: ['reports:read'] });
      t.clock.advance(1);
      await t.app.inject({
        method: 'POST',
        url: '/api/auth/signout',
        headers: { authorization: `Bearer ${person.tokens.access_token}` },
        payload: {},
      });
      const started = Date.now();
      while ((await get(origin, token)).status !== 401) {
        expect(Date.now() - started).toBeLessThan(1_000);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await app.close();
    }
  });

  it('Express and plain Node: 200 for reports:read, 403 insufficient_scope without it', async () => {
    for (const server of [
      (await import('node:http')).createServer(
        expressReportsApi({ issuer: t.issuer, resource: RESOURCE }),
      ),
      reportsServer({ issuer: t.issuer, resource: RESOURCE }),
    ]) {
      const running = await listen(server);
      try {
        const reader = await resourceToken(t, RESOURCE, { scope: 'reports:read', sub: 'r-1' });
        const ok = await get(running.origin, reader);
        expect(ok.status).toBe(200);
        expect(await ok.json()).toEqual({ sub: 'r-1', scopes: ['reports:read'] });
        const writer = await resourceToken(t, RESOURCE, { scope: 'reports:write' });
        const refused = await get(running.origin, writer);
        expect(refused.status).toBe(403);
        expect(refused.headers.get('www-authenticate')).toMatch(
          /^Bearer error="insufficient_scope", scope="reports:read", resource_metadata="/,
        );
      } finally {
        await running.close();
      }
    }
  });
});
