import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { json, signedInUser } from './app.js';
import { type OidcTestApp, registerClient, signedClientGrant, startOidcApp } from './oidc.js';

// examples/fastapi-pyjwt, run by a real Python against this service on a real port: PyJWT
// fetches our JWKS and judges real tokens. Without PyJWT (python3-jwt, python3-cryptography)
// the tests say so and are skipped, unless REQUIRE_PYTHON=1 (as `npm test` sets it, after
// installing them), where that is a failure;
// the FastAPI part needs python3-fastapi (and httpx, for its TestClient) the same way.

const run = promisify(execFile);
const EXAMPLE = fileURLToPath(new URL('../examples/fastapi-pyjwt/', import.meta.url));
const NOTES = 'https://notes.example.com/api';
const OTHER = 'https://other.example.com/api';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const required = process.env['REQUIRE_PYTHON'] === '1';

/** The first Python that imports these modules: $PYTHON, Debian's, then whatever is on PATH. */
async function pythonWith(modules: string): Promise<string | undefined> {
  const candidates = [process.env['PYTHON'], '/usr/bin/python3', 'python3'].filter(
    (candidate): candidate is string =>
      candidate !== undefined && (!candidate.startsWith('/') || existsSync(candidate)),
  );
  for (const candidate of candidates) {
    try {
      await run(candidate, ['-c', `import ${modules}`]);
      return candidate;
    } catch {
      // Not this one.
    }
  }
  return undefined;
}

const pyjwt = await pythonWith('jwt, cryptography');
const fastapi = await pythonWith('jwt, cryptography, fastapi, httpx');
for (const [found, what] of [
  [pyjwt, 'PyJWT with cryptography (python3-jwt python3-cryptography)'],
  [fastapi, 'FastAPI with httpx (python3-fastapi python3-httpx)'],
] as const) {
  if (found) continue;
  if (required) throw new Error(`REQUIRE_PYTHON=1, but no python3 here has ${what}`);
  console.warn(`\n*** The Python example tests did not run: no python3 with ${what}. ***\n`);
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a Python of the example's folder; its exit code rather than a throw. */
async function python(interpreter: string, args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(interpreter, args, { cwd: EXAMPLE, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

let t: OidcTestApp;

beforeAll(async () => {
  if (!pyjwt) return;
  t = await startOidcApp();
  for (const identifier of [NOTES, OTHER]) {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/admin/resources',
      headers: t.admin,
      payload: {
        identifier,
        name: identifier,
        scopes: [
          { name: 'notes:read', description: 'Read notes' },
          { name: 'notes:write', description: 'Write notes' },
        ],
      },
    });
    expect(created.statusCode).toBe(201);
  }
});

/** A person's access token for `resource` with these scopes, signed as a code exchange signs it. */
async function tokenFor(resource: string, scopes: string[]) {
  const person = await signedInUser(t.app);
  const app = await registerClient(t.app, t.admin, { redirect_uris: ['http://127.0.0.1:9/cb'] });
  const { token } = await signedClientGrant(t.deps, t.clock.now(), {
    userId: person.user.id,
    clientId: app.client_id,
    scopes,
    resource,
  });
  return { userId: person.user.id, token };
}

function verifyArgs(token: string, ...extra: string[]): string[] {
  return ['hyperion_verify.py', '--issuer', t.issuer, '--audience', NOTES, ...extra, token];
}

describe.skipIf(!pyjwt)('examples/fastapi-pyjwt: hyperion_verify.py (PyJWT)', () => {
  it("accepts a token for its API, checked against the issuer's JWKS, and prints its claims", async () => {
    const { userId, token } = await tokenFor(NOTES, ['notes:read']);
    const outcome = await python(pyjwt!, verifyArgs(token, '--scope', 'notes:read'));
    expect(outcome.stderr).toBe('');
    expect(outcome.code).toBe(0);
    expect(JSON.parse(outcome.stdout)).toMatchObject({
      sub: userId,
      aud: NOTES,
      iss: t.issuer,
      scope: 'notes:read',
    });
  });

  it('refuses a token for another audience: another API, or this service itself', async () => {
    const other = await tokenFor(OTHER, ['notes:read']);
    const refused = await python(pyjwt!, verifyArgs(other.token));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('another audience');
    const firstParty = await signedInUser(t.app);
    const own = await python(pyjwt!, verifyArgs(firstParty.tokens.access_token));
    expect(own.code).toBe(1);
  });

  it('refuses an expired token, a tampered one and garbage (invalid_token)', async () => {
    // Signed an hour ago (the service's clock set back), so long expired by the real clock.
    t.clock.advance(-3600);
    const old = await tokenFor(NOTES, ['notes:read']);
    t.clock.advance(3600);
    const expired = await python(pyjwt!, verifyArgs(old.token));
    expect(expired.code).toBe(1);
    expect(expired.stderr).toContain('expired');
    const { token } = await tokenFor(NOTES, ['notes:read']);
    const [header, payload, signature] = token.split('.');
    const flipped = `${signature![0] === 'A' ? 'B' : 'A'}${signature!.slice(1)}`;
    for (const bad of [`${header}.${payload}.${flipped}`, 'not-a-token', `${header}.${payload}.`]) {
      const outcome = await python(pyjwt!, verifyArgs(bad));
      expect(outcome.code, bad.slice(0, 40)).toBe(1);
      expect(outcome.stderr).toContain('invalid_token');
    }
  });

  it('refuses a valid token without the scope asked for (insufficient_scope)', async () => {
    const { token } = await tokenFor(NOTES, ['notes:read']);
    const outcome = await python(pyjwt!, verifyArgs(token, '--scope', 'notes:write'));
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain('insufficient_scope');
  });
});

// Calls GET /notes of the example's FastAPI app through FastAPI's TestClient, each token in
// turn, and prints what came back.
const FASTAPI_SCRIPT = `
import json, sys
from fastapi.testclient import TestClient
from app import create_app
from hyperion_verify import HyperionVerifier
client = TestClient(create_app(HyperionVerifier(sys.argv[1], sys.argv[2])))
answers = {}
for name, token in json.loads(sys.argv[3]).items():
    headers = {"Authorization": "Bearer " + token} if token else {}
    response = client.get("/notes", headers=headers)
    answers[name] = {"status": response.status_code, "challenge": response.headers.get("www-authenticate"), "body": response.json()}
print(json.dumps(answers))
`;

describe.skipIf(!pyjwt || !fastapi)('examples/fastapi-pyjwt: app.py (FastAPI)', () => {
  it('serves an agent its exchanged token; 401 and 403 with their Bearer challenges', async () => {
    const agent = await registerClient(t.app, t.admin, {
      redirect_uris: ['http://127.0.0.1:9/cb'],
      grant_types: [EXCHANGE],
    });
    const subject = await tokenFor(NOTES, ['notes:read', 'notes:write']);
    const exchanged = await t.app.inject({
      method: 'POST',
      url: '/api/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: EXCHANGE,
        client_id: agent.client_id,
        client_secret: agent.client_secret!,
        subject_token: subject.token,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        resource: NOTES,
        scope: 'notes:read',
      }).toString(),
    });
    expect(exchanged.statusCode).toBe(200);
    const writer = await tokenFor(NOTES, ['notes:write']);
    const other = await tokenFor(OTHER, ['notes:read']);
    const tokens = {
      agent: json<{ access_token: string }>(exchanged).access_token,
      writer: writer.token,
      other: other.token,
      none: '',
    };
    const outcome = await python(fastapi!, [
      '-c',
      FASTAPI_SCRIPT,
      t.issuer,
      NOTES,
      JSON.stringify(tokens),
    ]);
    expect(outcome.code, outcome.stderr).toBe(0);
    const answers = JSON.parse(outcome.stdout) as Record<
      string,
      { status: number; challenge: string | null; body: Record<string, unknown> }
    >;
    expect(answers['agent']).toMatchObject({
      status: 200,
      body: { user: subject.userId, acting_client: agent.client_id },
    });
    expect(answers['writer']?.status).toBe(403);
    expect(answers['writer']?.challenge).toBe(
      'Bearer realm="api", error="insufficient_scope", scope="notes:read"',
    );
    expect(answers['other']?.status).toBe(401);
    expect(answers['other']?.challenge).toMatch(/^Bearer realm="api", error="invalid_token"/);
    expect(answers['none']).toMatchObject({ status: 401, challenge: 'Bearer realm="api"' });
  });
});
