import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../src/app.js';
import { type Config, loadConfig } from '../src/config/config.js';
import { type Deps, createDeps } from '../src/deps.js';
import { ManualClock } from '../src/lib/clock.js';
import { type TestDatabase, createTestDatabase } from './db.js';
import { cleanUpAfter } from './cleanup.js';
import { conformanceRecorder } from './openapi-conformance.js';

/** Settings every test app starts from: fast (but real) argon2, quiet logs. */
export const TEST_ENV: Readonly<Record<string, string>> = {
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_ITERATIONS: '1',
  MIGRATE_ON_START: 'false',
  LOG_LEVEL: 'silent',
  PUBLIC_URL: 'http://auth.test',
  // Every test app talks from 127.0.0.1; the rate-limit tests turn limits back on.
  RATE_LIMIT: 'off',
};

export interface TestApp {
  app: FastifyInstance;
  deps: Deps;
  config: Readonly<Config>;
  clock: ManualClock;
  database: TestDatabase;
  /** Every log line the app wrote, parsed (only when started with captureLogs). */
  logs: Record<string, unknown>[];
  /** The OpenAPI check of every answer (unless started with conformance: false). */
  openApi: { failures: readonly string[]; covered(): ReadonlySet<string> } | undefined;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Share another app's database (a second instance of the same service). */
  database?: TestDatabase;
  clock?: ManualClock;
  /** Log at debug level into `logs` so a test can read what would be written. */
  captureLogs?: boolean;
  /** Use Redis from TEST_REDIS_URL when it is set. */
  redis?: boolean;
  /** Rate-limit key namespace in Redis: share it between instances that share limits. */
  rateLimitPrefix?: string;
  /**
   * Check every answer against the app's /openapi.json (by default unless
   * TEST_OPENAPI_CONFORMANCE=off; see openapi-conformance.ts). A mismatch fails the test, or
   * the file, when the app closes.
   */
  conformance?: boolean;
  /** Trust anchor (PEM) for outbound https, e.g. test/https-server.ts's certificate. */
  outboundCa?: string;
}

/**
 * Builds the real application on a database of its own (or a shared one), closed after the
 * file's tests. Nothing is mocked: the app talks to PGlite or PostgreSQL, argon2 runs.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase());
  const redisUrl = options.redis === false ? undefined : process.env['TEST_REDIS_URL'];
  const env: Record<string, string> = {
    ...TEST_ENV,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const clock = options.clock ?? new ManualClock();
  const db = await database.open();
  const deps = await createDeps(config, {
    db,
    clock,
    // Parallel test files share one Redis: each app counts apart unless told to share.
    rateLimitPrefix: options.rateLimitPrefix ?? `test:${randomUUID()}`,
    ...(options.outboundCa === undefined ? {} : { outboundCa: options.outboundCa }),
  });
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const { loggerOptions } = await import('../src/http/logging.js');
  const checked = options.conformance ?? process.env['TEST_OPENAPI_CONFORMANCE'] !== 'off';
  const recorder = checked ? conformanceRecorder() : undefined;
  const app = await buildApp(deps, {
    logger: options.captureLogs ? { ...loggerOptions('debug'), stream } : false,
    ...(recorder ? { instrument: recorder.instrument } : {}),
  });
  await app.ready();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
    await deps.close();
    if (!options.database) await database.drop();
    if (recorder && recorder.failures.length > 0)
      throw new Error(
        `Answers that /openapi.json does not describe:\n${recorder.failures.join('\n')}`,
      );
  };
  cleanUpAfter(close);
  const openApi = recorder && {
    failures: recorder.failures,
    covered: () => recorder.conformance()?.covered ?? new Set<string>(),
  };
  return { app, deps, config, clock, database, logs, openApi, close };
}

export function json<T = Record<string, unknown>>(response: LightMyRequestResponse): T {
  return response.json() as T;
}

let counter = 0;
/** A unique, valid e-mail address for a test user. */
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}.${process.pid}.${counter}.${Date.now().toString(36)}@example.com`;
}

export const GOOD_PASSWORD = 'violet-Harbor-917-quiet';

export async function signUp(
  app: FastifyInstance,
  body: { email?: string; password?: string; name?: string } = {},
) {
  const email = body.email ?? uniqueEmail();
  const password = body.password ?? GOOD_PASSWORD;
  const response = await app.inject({
    method: 'POST',
    url: '/api/auth/signup',
    payload: { email, password, ...(body.name ? { name: body.name } : {}) },
  });
  if (response.statusCode !== 201)
    throw new Error(`sign-up failed: ${response.statusCode} ${response.body}`);
  return { email, password, user: json<{ id: string; email: string }>(response) };
}

export interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  user: { id: string; email: string; roles: string[]; last_signin_at: string | null };
}

export async function signIn(
  app: FastifyInstance,
  email: string,
  password: string,
): Promise<TokenBody> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/auth/signin',
    payload: { email, password },
  });
  if (response.statusCode !== 200)
    throw new Error(`sign-in failed: ${response.statusCode} ${response.body}`);
  return json<TokenBody>(response);
}

/** Signs up a fresh user and signs them in. */
export async function signedInUser(app: FastifyInstance) {
  const { email, password, user } = await signUp(app);
  const tokens = await signIn(app, email, password);
  return {
    email,
    password,
    user,
    tokens,
    auth: { authorization: `Bearer ${tokens.access_token}` },
  };
}

/** Creates a verified admin through the service (as the CLI does) and signs them in. */
export async function signedInAdmin(app: FastifyInstance, deps: Deps) {
  const email = uniqueEmail('admin');
  const user = await deps.services.accounts.createAdmin({ email, password: GOOD_PASSWORD });
  const tokens = await signIn(app, email, GOOD_PASSWORD);
  return {
    email,
    password: GOOD_PASSWORD,
    user,
    tokens,
    auth: { authorization: `Bearer ${tokens.access_token}` },
  };
}

/** Creates (if needed) a role with these permissions and gives it to the user, in the database. */
export async function grantPermissions(
  deps: Deps,
  userId: string,
  role: string,
  permissions: string[],
): Promise<void> {
  await deps.db
    .insertInto('roles')
    .values({ name: role, description: 'test role', permissions, updated_at: new Date() })
    .onConflict((oc) => oc.column('name').doUpdateSet({ permissions }))
    .execute();
  await deps.db
    .insertInto('user_roles')
    .values({ user_id: userId, role_name: role })
    .onConflict((oc) => oc.columns(['user_id', 'role_name']).doNothing())
    .execute();
}

/** The audit events of one type about one user, oldest first. */
export async function auditEventsOf(deps: Deps, userId: string, type: string) {
  return deps.db
    .selectFrom('audit_events')
    .selectAll()
    .where('user_id', '=', userId)
    .where('type', '=', type)
    .orderBy('at')
    .orderBy('id')
    .execute();
}
