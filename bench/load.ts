import autocannon from 'autocannon';
import type { CpuPerRequest } from './cpu.js';

/** One autocannon run, reduced to what the report needs. */
export interface Measurement {
  connections: number;
  durationSeconds: number;
  /** 2xx answers per second: a refused request is not throughput. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  ok: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** Status codes other than 2xx, with counts, for diagnosing a broken run. */
  otherStatuses: Record<string, number>;
  /** Where the CPU went during the measured run, per request (absent for combined loads). */
  cpu?: CpuPerRequest | undefined;
}

export interface LoadOptions {
  url: string;
  connections: number;
  duration: number;
  method?: 'GET' | 'POST';
  body?: string;
  headers?: Record<string, string>;
  /** Called once per connection: per-connection state (a token chain) lives in its closure. */
  setupClient?: (client: autocannon.Client) => void;
  /** Each connection's requests; autocannon rebuilds those with a `setupRequest` every time. */
  requests?: autocannon.Request[];
  /** Caps the request rate over all connections (a probe rather than a load). */
  overallRate?: number;
}

function toMeasurement(result: autocannon.Result, connections: number): Measurement {
  const otherStatuses: Record<string, number> = {};
  for (const [status, stats] of Object.entries(result.statusCodeStats ?? {})) {
    if (!status.startsWith('2')) otherStatuses[status] = stats.count ?? 0;
  }
  return {
    connections,
    durationSeconds: result.duration,
    rps: result['2xx'] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    otherStatuses,
  };
}

/** Runs autocannon against a loopback URL for a fixed duration. */
export async function measure(options: LoadOptions): Promise<Measurement> {
  const url = new URL(options.url);
  if (url.hostname !== '127.0.0.1') throw new Error(`refusing to load ${url.hostname}`);
  const config: autocannon.Options = {
    url: options.url,
    connections: options.connections,
    duration: options.duration,
    method: options.method ?? 'GET',
    headers: options.headers ?? {},
    // One request in flight per connection: a chained refresh needs the previous answer.
    pipelining: 1,
    timeout: 20,
  };
  if (options.body !== undefined) config.body = options.body;
  if (options.setupClient) config.setupClient = options.setupClient;
  if (options.requests) config.requests = options.requests;
  if (options.overallRate !== undefined) {
    config.overallRate = options.overallRate;
    // autocannon's coordinated-omission correction takes the expected interval as
    // ceil(1 / rate) ms — 1 ms for any rate — and would add synthetic samples to every
    // answer slower than that; a rate-capped probe wants the latencies it saw.
    config.ignoreCoordinatedOmission = true;
  }
  const result = await autocannon(config);
  return toMeasurement(result, options.connections);
}
