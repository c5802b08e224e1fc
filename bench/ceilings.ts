import argon2 from 'argon2';
import { type Measurement, measure } from './load.js';
import { startBareServer } from './server.js';
import { ARGON2_OPTIONS, BENCH_PASSWORD } from './seed.js';

export interface HashCeiling {
  /** argon2id verifications per second with the service's parameters, all workers busy. */
  rps: number;
  concurrency: number;
  /** Mean milliseconds of one verification while `concurrency` run at once. */
  meanMs: number;
  durationSeconds: number;
}

/**
 * The HTTP limit of this machine: a bare Fastify route in its own process, loaded the same
 * way (same client, same connections) as the service's cheapest routes.
 */
export async function measureBareRoute(options: {
  connections: number;
  duration: number;
  warmup: number;
}): Promise<Measurement> {
  const server = await startBareServer();
  try {
    const url = `${server.url}/`;
    await measure({ url, connections: options.connections, duration: options.warmup });
    return await measure({ url, connections: options.connections, duration: options.duration });
  } finally {
    await server.stop();
  }
}

/**
 * The hashing limit: argon2.verify in a closed loop, `concurrency` at a time. The native
 * addon runs on libuv's pool; one verification per core (within the pool) keeps every core
 * busy, and more would only time-share them.
 */
export async function measureHashRate(options: {
  concurrency: number;
  duration: number;
}): Promise<HashCeiling> {
  const hash = await argon2.hash(BENCH_PASSWORD, ARGON2_OPTIONS);
  // Unmeasured: the first calls map the 19 MiB blocks of each worker.
  await Promise.all(
    Array.from({ length: options.concurrency }, () => argon2.verify(hash, BENCH_PASSWORD)),
  );
  const started = performance.now();
  const deadline = started + options.duration * 1000;
  let done = 0;
  let busyMs = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      if (!(await argon2.verify(hash, BENCH_PASSWORD))) throw new Error('argon2 verify failed');
      busyMs += performance.now() - t0;
      done++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  return {
    rps: done / seconds,
    concurrency: options.concurrency,
    meanMs: busyMs / done,
    durationSeconds: seconds,
  };
}
