import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { resultWithin } from '../../lib/timeout.js';

/** How a password sign-in ended: success, an MFA challenge, or the error code it was refused with. */
export type SignInOutcome = 'success' | 'mfa_required' | string;

/** Where the service reports what it counts; the features depend on this, not on prom-client. */
export interface MetricsRecorder {
  signIn(outcome: SignInOutcome): void;
  /** An access token was signed: a user's (with a session) or a service account's. */
  tokenIssued(kind: 'user' | 'service'): void;
  passwordHashTimed(operation: 'hash' | 'verify', ms: number): void;
  rateLimited(limit: string): void;
  /**
   * The OpenID Connect provider, by registered client (never an unregistered id: the label
   * must stay bounded) and outcome: an authorization request's end (`code`, or the error
   * sent back), and a code exchange's (`success`, `invalid_grant`, `reused`).
   */
  oauthAuthorization(clientId: string, outcome: string): void;
  oauthCodeExchange(clientId: string, outcome: string): void;
  /** A token exchange (RFC 8693): `success` or the OAuth error it was refused with. */
  oauthTokenExchange(clientId: string, outcome: string): void;
  oauthDeviceAuthorization(clientId: string, outcome: string): void;
}

/** Gauges read when Prometheus scrapes: nothing is polled in between. */
export interface MetricsSources {
  /** Connections of the PostgreSQL pool; undefined on the embedded database (no pool). */
  databasePool?: () => { total: number; idle: number; waiting: number } | undefined;
  /** Mail waiting in the outbox to be sent. */
  outboxDepth?: () => Promise<number>;
}

// prom-client's default collector adds these gauges beside the same counts by type
// (nodejs_active_handles{type=...}, ...). A gauge named *_total reads as a counter, and
// `promtool check metrics` rejects it; the sum over `type` is the same number, so they go.
const MISNAMED_DEFAULT_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

// Default metrics (CPU, memory, event-loop lag, GC, handles) describe the process, not an app:
// one registry for them however many apps a process builds (tests build many).
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 10 });
    for (const name of MISNAMED_DEFAULT_GAUGES) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const HASH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
// A scrape must answer even when the database is slow; the depth is then left out.
const SOURCE_TIMEOUT_MS = 1_000;

/** The service's Prometheus metrics, one registry per app, exposed at /metrics. */
export class Metrics implements MetricsRecorder {
  readonly registry = new Registry();
  readonly #requests = new Counter({
    name: 'hyperion_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly #duration = new Histogram({
    name: 'hyperion_http_request_duration_seconds',
    help: 'Time from receiving a request to answering it, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });
  readonly #signIns = new Counter({
    name: 'hyperion_signin_attempts_total',
    help: 'Password sign-ins by outcome (success, mfa_required, or the refusal code)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly #tokens = new Counter({
    name: 'hyperion_access_tokens_issued_total',
    help: 'Access tokens signed, for users (sessions) and service accounts',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly #hashes = new Histogram({
    name: 'hyperion_password_hash_duration_seconds',
    help: 'Time a password hash or verification took (on the thread pool)',
    labelNames: ['operation'] as const,
    buckets: HASH_BUCKETS,
    registers: [this.registry],
  });
  readonly #rejections = new Counter({
    name: 'hyperion_rate_limit_rejections_total',
    help: 'Requests refused with 429, by the limit they ran into',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  readonly #authorizations = new Counter({
    name: 'hyperion_oauth_authorizations_total',
    help: 'Authorization requests ended, by registered client and outcome (code or the error)',
    labelNames: ['client_id', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly #tokenExchanges = new Counter({
    name: 'hyperion_oauth_token_exchanges_total',
    help: 'Token exchanges (RFC 8693) at the token endpoint, by client and outcome',
    labelNames: ['client_id', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly #codeExchanges = new Counter({
    name: 'hyperion_oauth_code_exchanges_total',
    help: 'Authorization codes presented at the token endpoint, by client and outcome',
    labelNames: ['client_id', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly #deviceAuthorizations = new Counter({
    name: 'hyperion_oauth_device_authorizations_total',
    help: 'Device authorizations (RFC 8628) by client and step: started, approved, denied, issued',
    labelNames: ['client_id', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor(sources: MetricsSources = {}) {
    const { databasePool, outboxDepth } = sources;
    if (databasePool) {
      new Gauge({
        name: 'hyperion_db_pool_connections',
        help: 'Connections of the PostgreSQL pool, by state (total, idle, waiting for one)',
        labelNames: ['state'] as const,
        registers: [this.registry],
        collect() {
          const pool = databasePool();
          if (!pool) return;
          this.set({ state: 'total' }, pool.total);
          this.set({ state: 'idle' }, pool.idle);
          this.set({ state: 'waiting' }, pool.waiting);
        },
      });
    }
    if (outboxDepth) {
      new Gauge({
        name: 'hyperion_mail_outbox_depth',
        help: 'Mail in the outbox not yet sent (nor given up on)',
        registers: [this.registry],
        async collect() {
          const depth = await resultWithin(outboxDepth(), SOURCE_TIMEOUT_MS);
          if (depth !== undefined) this.set(depth);
        },
      });
    }
  }

  /** `route` is the route's template (`/api/admin/users/:id`), never the raw URL. */
  requestAnswered(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.#requests.inc(labels);
    this.#duration.observe(labels, seconds);
  }

  signIn(outcome: SignInOutcome): void {
    this.#signIns.inc({ outcome });
  }

  tokenIssued(kind: 'user' | 'service'): void {
    this.#tokens.inc({ kind });
  }

  passwordHashTimed(operation: 'hash' | 'verify', ms: number): void {
    this.#hashes.observe({ operation }, ms / 1000);
  }

  rateLimited(limit: string): void {
    this.#rejections.inc({ limit });
  }

  oauthAuthorization(clientId: string, outcome: string): void {
    this.#authorizations.inc({ client_id: clientId, outcome });
  }

  oauthCodeExchange(clientId: string, outcome: string): void {
    this.#codeExchanges.inc({ client_id: clientId, outcome });
  }

  oauthTokenExchange(clientId: string, outcome: string): void {
    this.#tokenExchanges.inc({ client_id: clientId, outcome });
  }

  oauthDeviceAuthorization(clientId: string, outcome: string): void {
    this.#deviceAuthorizations.inc({ client_id: clientId, outcome });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text: this app's metrics and the process's. */
  async render(): Promise<string> {
    return Registry.merge([this.registry, processMetrics()]).metrics();
  }
}
