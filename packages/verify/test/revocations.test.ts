import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedInUser } from '../../../test/app.js';
import { type OidcTestApp, startOidcApp } from '../../../test/oidc.js';
import { type Verifier, VerifyError, createVerifier } from '../src/index.js';
import { registerResource, resourceToken, serviceAccount } from './kit.js';

// A downstream service following the live revocation feed refuses a signed-out session's
// tokens within a second, instead of at their expiry — by the event stream, after a dropped
// stream (resumed with Last-Event-ID), and by polling where streams do not get through.

const API = 'https://reports.example.com/api';
let t: OidcTestApp;
let credentials: { clientId: string; clientSecret: string };
const verifiers: Verifier[] = [];

beforeAll(async () => {
  t = await startOidcApp();
  await registerResource(t, API, ['reports:read']);
  const account = await serviceAccount(t, ['revocations:read']);
  credentials = { clientId: account.client_id, clientSecret: account.client_secret };
});
afterAll(async () => {
  await Promise.all(verifiers.map((verifier) => verifier.close()));
  await t.close();
});

function follower(options: { fetch?: typeof fetch; pollInterval?: number } = {}): Verifier {
  const verifier = createVerifier({
    issuer: t.issuer,
    audience: API,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    revocations: {
      ...credentials,
      ...(options.pollInterval ? { pollInterval: options.pollInterval } : {}),
    },
  });
  verifiers.push(verifier);
  return verifier;
}

/** A signed-in person and a token of their session for the API, as a client grant has. */
async function personWithToken() {
  const person = await signedInUser(t.app);
  const sid = JSON.parse(
    Buffer.from(person.tokens.access_token.split('.')[1]!, 'base64url').toString(),
  )['sid'] as string;
  const token = await resourceToken(t, API, { scope: 'reports:read', sid });
  return { person, token, sid };
}

async function signOut(accessToken: string): Promise<void> {
  // The feed is ordered by revocation time; the test clock only moves when told.
  t.clock.advance(1);
  const response = await fetch(`${t.issuer}/api/auth/signout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(response.status).toBe(204);
}

/** Verifies until refused; how long that took (ms), or Infinity past the limit. */
async function msUntilRefused(verifier: Verifier, token: string, limitMs = 1_000) {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    const refused = await verifier.verify(token).then(
      () => undefined,
      (error: unknown) => error,
    );
    if (refused) {
      expect(refused).toBeInstanceOf(VerifyError);
      expect(refused).toMatchObject({ code: 'invalid_token', status: 401 });
      return Date.now() - started;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Number.POSITIVE_INFINITY;
}

describe('revocations: following the feed', () => {
  it('refuses a token within a second of its session being signed out (event stream)', async () => {
    const verifier = follower();
    const { person, token } = await personWithToken();
    await expect(verifier.verify(token)).resolves.toMatchObject({ scopes: ['reports:read'] });
    expect(verifier.revocations?.mode).toBe('stream');
    await signOut(person.tokens.access_token);
    expect(await msUntilRefused(verifier, token)).toBeLessThan(1_000);
  });

  it('knows revocations from before it started (the backlog)', async () => {
    const { person, token } = await personWithToken();
    await signOut(person.tokens.access_token);
    const verifier = follower();
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('resumes a dropped stream with Last-Event-ID', async () => {
    const earlier = await personWithToken();
    await signOut(earlier.person.tokens.access_token);
    const streamRequests: Headers[] = [];
    // The first stream is cut right after its backlog, as a flaky proxy would.
    const cutting: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const headers = new Headers(init?.headers);
      if (headers.get('accept') !== 'text/event-stream') return response;
      streamRequests.push(headers);
      if (streamRequests.length > 1 || !response.body) return response;
      let seen = '';
      const cut = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          controller.enqueue(chunk);
          seen += new TextDecoder().decode(chunk);
          if (seen.includes(': backlog sent')) controller.terminate();
        },
      });
      return new Response(response.body.pipeThrough(cut), {
        status: response.status,
        headers: response.headers,
      });
    };
    const verifier = follower({ fetch: cutting });
    await expect(verifier.verify(earlier.token)).rejects.toMatchObject({ code: 'invalid_token' });
    const later = await personWithToken();
    await expect(verifier.verify(later.token)).resolves.toBeDefined();
    await signOut(later.person.tokens.access_token);
    // Within the reconnection delay (retry: 1000) and a second more.
    expect(await msUntilRefused(verifier, later.token, 2_500)).toBeLessThan(2_500);
    expect(streamRequests.length).toBeGreaterThanOrEqual(2);
    expect(streamRequests[0]!.get('last-event-id')).toBeNull();
    expect(streamRequests[1]!.get('last-event-id')).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('polls the JSON feed where the event stream does not get through', async () => {
    // A path that drops the event-stream negotiation: the server answers JSON pages.
    const jsonOnly: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      if (headers.get('accept') === 'text/event-stream') headers.set('accept', 'application/json');
      return fetch(input, { ...init, headers });
    };
    const verifier = follower({ fetch: jsonOnly, pollInterval: 200 });
    const { person, token } = await personWithToken();
    await expect(verifier.verify(token)).resolves.toBeDefined();
    expect(verifier.revocations?.mode).toBe('poll');
    await signOut(person.tokens.access_token);
    expect(await msUntilRefused(verifier, token)).toBeLessThan(1_000);
  });

  it('falls back to polling after the stream fails again and again', async () => {
    const errors: unknown[] = [];
    // A proxy that refuses event streams (502) but lets JSON through.
    const noStreams: typeof fetch = async (input, init) =>
      new Headers(init?.headers).get('accept') === 'text/event-stream'
        ? new Response('bad gateway', { status: 502 })
        : fetch(input, init);
    const verifier = createVerifier({
      issuer: t.issuer,
      audience: API,
      fetch: noStreams,
      revocations: { ...credentials, pollInterval: 200, onError: (error) => errors.push(error) },
    });
    verifiers.push(verifier);
    const { person, token } = await personWithToken();
    await expect(verifier.verify(token)).resolves.toBeDefined();
    expect(verifier.revocations?.mode).toBe('poll');
    expect(errors.length).toBe(3);
    await signOut(person.tokens.access_token);
    expect(await msUntilRefused(verifier, token)).toBeLessThan(1_000);
  });

  it('stops on close()', async () => {
    const verifier = follower();
    const { token } = await personWithToken();
    await verifier.verify(token);
    const started = Date.now();
    await verifier.close();
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
