import type autocannon from 'autocannon';
import { type LoadOptions, type Measurement, measure } from './load.js';
import { type CpuMeter, perRequest } from './cpu.js';
import { BENCH_PASSWORD, seededEmail } from './seed.js';

/** Connections per kind of load (chosen for a 2-core machine; see the report's notes). */
export const CONNECTIONS = {
  /** Cheap routes: enough in flight to keep the event loop always busy. */
  cheap: 50,
  /** Refresh: a transaction per request; more than the pool (10) so the pool never idles. */
  refresh: 32,
  /** Hashing routes: more than the 4 libuv workers, so a hash is always queued. */
  hashing: 16,
  /** The /health probe beside a saturating sign-in: a gateway's checks, not a load. */
  probe: 2,
} as const;

const PROBE_RATE = 100;
const JSON_HEADERS = { 'content-type': 'application/json' };

export interface ScenarioContext {
  baseUrl: string;
  duration: number;
  warmup: number;
  /** Reads the service's, PostgreSQL's, Redis's and the bench's CPU around a measured run. */
  cpu: CpuMeter;
}

export interface Grant {
  accessToken: string;
  refreshToken: string;
}

function field(value: unknown, name: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const found: unknown = (value as Record<string, unknown>)[name];
  return typeof found === 'string' ? found : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Signs in through the API, `parallel` at a time (each one costs a real hash). */
export async function signIn(baseUrl: string, emails: string[], parallel = 8): Promise<Grant[]> {
  const grants: Grant[] = [];
  let next = 0;
  const worker = async () => {
    while (next < emails.length) {
      const email = emails[next++];
      const response = await fetch(`${baseUrl}/api/auth/signin`, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: JSON.stringify({ email, password: BENCH_PASSWORD }),
      });
      const body: unknown = await response.json();
      const accessToken = field(body, 'access_token');
      const refreshToken = field(body, 'refresh_token');
      if (!response.ok || !accessToken || !refreshToken)
        throw new Error(`sign-in of ${email} failed: ${response.status} ${JSON.stringify(body)}`);
      grants.push({ accessToken, refreshToken });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return grants;
}

/** `count` distinct seeded users spread over 1..`population`, as e-mails. */
export function spreadUsers(count: number, population: number): string[] {
  const step = population / count;
  return Array.from({ length: count }, (_, i) => seededEmail(1 + Math.floor(i * step)));
}

/**
 * The warm-up of a hashing route: at some 50 requests a second, the cheap routes' 2 s run
 * its code a hundred times, too few for V8 to have optimised it; a service that has been up
 * a while has. Measured: the first sign-in scenario spent twice the CPU outside hashing that
 * later ones did.
 */
function hashingWarmup(ctx: ScenarioContext): number {
  return Math.max(ctx.warmup, ctx.duration / 2);
}

/** A warm-up of the same load (discarded), then the measured run. */
async function run(
  ctx: ScenarioContext,
  load: () => LoadOptions,
  warmup = ctx.warmup,
): Promise<Measurement> {
  await measure({ ...load(), duration: warmup });
  const { result, spent } = await ctx.cpu.over(() =>
    measure({ ...load(), duration: ctx.duration }),
  );
  return { ...result, cpu: perRequest(spent, result.ok + result.non2xx) };
}

/** Each connection presents one user's bearer token, round-robin over `grants`. */
function bearerPerConnection(grants: Grant[]): (client: autocannon.Client) => void {
  let next = 0;
  return (client) => {
    const grant = grants[next++ % grants.length];
    client.setHeaders({ authorization: `Bearer ${grant?.accessToken ?? ''}` });
  };
}

/** GET /api/auth/verify: the forward-auth check a gateway makes before every request. */
export async function verifyScenario(ctx: ScenarioContext, grants: Grant[]): Promise<Measurement> {
  return run(ctx, () => ({
    url: `${ctx.baseUrl}/api/auth/verify`,
    connections: CONNECTIONS.cheap,
    duration: ctx.duration,
    setupClient: bearerPerConnection(grants),
  }));
}

/** GET /api/auth/me: a token check, the session check and the user's row with its roles. */
export async function meScenario(ctx: ScenarioContext, grants: Grant[]): Promise<Measurement> {
  return run(ctx, () => ({
    url: `${ctx.baseUrl}/api/auth/me`,
    connections: CONNECTIONS.cheap,
    duration: ctx.duration,
    setupClient: bearerPerConnection(grants),
  }));
}

/**
 * POST /api/auth/refresh, every request a real rotation: each connection starts from its
 * own session's unspent refresh token and sends, next, the one the previous answer handed
 * out (pipelining 1, so the answer is in before the next request is built). A presented
 * token is spent, so a connection whose chain broke (a timeout) takes a spare from `pool`.
 */
export async function refreshScenario(ctx: ScenarioContext, pool: string[]): Promise<Measurement> {
  const setupClient = (client: autocannon.Client) => {
    let token = pool.pop();
    if (token === undefined) throw new Error('no unspent refresh token left for a connection');
    client.setRequests([
      {
        method: 'POST',
        path: '/api/auth/refresh',
        headers: JSON_HEADERS,
        // autocannon resets its per-request context after every request when there is only
        // one request, so the chain lives in this closure instead.
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ refresh_token: token }) }),
        onResponse: (status, body) => {
          const child = status === 200 ? field(parseJson(body), 'refresh_token') : undefined;
          token = child ?? pool.pop() ?? token;
        },
      },
    ]);
  };
  return run(ctx, () => ({
    url: `${ctx.baseUrl}/api/auth/refresh`,
    connections: CONNECTIONS.refresh,
    duration: ctx.duration,
    method: 'POST',
    setupClient,
  }));
}

function signInLoad(ctx: ScenarioContext, population: number): LoadOptions {
  return {
    url: `${ctx.baseUrl}/api/auth/signin`,
    connections: CONNECTIONS.hashing,
    duration: ctx.duration,
    method: 'POST',
    requests: [
      {
        method: 'POST',
        path: '/api/auth/signin',
        headers: JSON_HEADERS,
        // Any of the seeded users at random, so the rows read are spread over the whole
        // table rather than a few hot pages; every password is right (the successful path).
        setupRequest: (request) => {
          const n = 1 + Math.floor(Math.random() * population);
          return {
            ...request,
            body: JSON.stringify({ email: seededEmail(n), password: BENCH_PASSWORD }),
          };
        },
      },
    ],
  };
}

/** POST /api/auth/signin with the right password of a seeded user: one argon2id verify each. */
export async function signInScenario(
  ctx: ScenarioContext,
  population: number,
): Promise<Measurement> {
  return run(ctx, () => signInLoad(ctx, population), hashingWarmup(ctx));
}

/** POST /api/auth/signup with an address never used before: one argon2id hash each. */
export async function signUpScenario(ctx: ScenarioContext, runTag: string): Promise<Measurement> {
  let next = 0;
  return run(
    ctx,
    () => ({
      url: `${ctx.baseUrl}/api/auth/signup`,
      connections: CONNECTIONS.hashing,
      duration: ctx.duration,
      method: 'POST',
      requests: [
        {
          method: 'POST',
          path: '/api/auth/signup',
          headers: JSON_HEADERS,
          setupRequest: (request) => ({
            ...request,
            body: JSON.stringify({
              email: `signup-${runTag}-${next++}@bench.example`,
              password: BENCH_PASSWORD,
            }),
          }),
        },
      ],
    }),
    hashingWarmup(ctx),
  );
}

export interface HealthUnderLoad {
  health: Measurement;
  signin: Measurement;
}

/**
 * /health latency while sign-in saturates the hash workers: the liveness probe must keep
 * answering promptly (argon2 runs off the event loop), or an orchestrator would restart a
 * busy instance. Two autocannon instances at once: the load and a rate-capped probe.
 */
export async function healthDuringSignInScenario(
  ctx: ScenarioContext,
  population: number,
): Promise<HealthUnderLoad> {
  const probe = (): LoadOptions => ({
    url: `${ctx.baseUrl}/health`,
    connections: CONNECTIONS.probe,
    duration: ctx.duration,
    overallRate: PROBE_RATE,
  });
  await Promise.all([
    measure({ ...signInLoad(ctx, population), duration: ctx.warmup }),
    measure({ ...probe(), duration: ctx.warmup }),
  ]);
  const [signin, health] = await Promise.all([
    measure(signInLoad(ctx, population)),
    measure(probe()),
  ]);
  return { health, signin };
}
