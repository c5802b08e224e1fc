import type { Redis } from 'ioredis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import type { Config } from '../../config/config.js';
import { AppError } from '../../errors.js';

/** Every counter the service keeps; each has its own key space. */
export type LimitName =
  /** Auth requests per source address (API.md: 300 a minute). */
  | 'auth_ip'
  /** Failed sign-ins (or MFA codes) per account from one source (10 per 15 minutes). */
  | 'signin_account_ip'
  /** Failed sign-ins per account from all sources (100 an hour). */
  | 'signin_account'
  /** Password-reset requests per account from one source. */
  | 'reset_account_ip'
  /** E-mail sign-in link requests per account from one source (as password reset's). */
  | 'signin_link_account_ip'
  /** Wrong or expired user codes typed at /device per source address (RFC 8628 §5.1). */
  | 'device_code_ip'
  /**
   * Authorizations naming a client by its metadata document's URL, per source address: each
   * may make this service fetch that URL, so nobody may use it to flood another site.
   */
  | 'metadata_client_ip'
  /** Mail of one kind to one recipient (bounds how much mail anyone can make us send). */
  | 'mail_recipient'
  /** All mail that requests can cause, from every instance: the sending reputation's cap. */
  | 'mail_global';

export interface LimitSpec {
  points: number;
  /** Window, seconds. */
  duration: number;
}

export type LimitSpecs = Record<LimitName, LimitSpec>;

/** The limits, from configuration (API.md's defaults: 300/min, 10 per 15 min, 100/hour). */
export function limitSpecs(config: Config['rateLimits']): LimitSpecs {
  return {
    auth_ip: { points: config.authPerMinute, duration: 60 },
    signin_account_ip: { points: config.signinFailuresPerSource, duration: 15 * 60 },
    signin_account: { points: config.signinFailuresPerAccount, duration: 60 * 60 },
    reset_account_ip: { points: 5, duration: 15 * 60 },
    signin_link_account_ip: { points: 5, duration: 15 * 60 },
    device_code_ip: { points: 10, duration: 15 * 60 },
    metadata_client_ip: { points: 60, duration: 60 },
    mail_recipient: { points: 10, duration: 60 * 60 },
    mail_global: { points: config.mailPerHour, duration: 60 * 60 },
  };
}

export interface RateLimitsOptions {
  /** Off (RATE_LIMIT=off): nothing is counted or refused. */
  enabled: boolean;
  /** Shared counters for every instance; without it each instance counts in memory. */
  redis: Redis | undefined;
  limits: LimitSpecs;
  /** Namespace of the keys in Redis (tests give each app its own). */
  keyPrefix: string;
  /** Told of every refusal, with the limit that refused. */
  onRejected?: (name: LimitName) => void;
}

/** In-memory counts that a refund never takes below zero. */
class MemoryLimiter extends RateLimiterMemory {
  // As the insurance limiter, it can be asked to give back a point Redis counted before it
  // went away: the plain reward would leave -1 here, one attempt past the budget.
  override async reward(key: string | number, points = 1): Promise<RateLimiterRes> {
    const current = await this.get(key);
    if (current === null || current.consumedPoints <= 0) return current ?? new RateLimiterRes();
    return super.reward(key, Math.min(points, current.consumedPoints));
  }
}

function memoryLimiter(name: LimitName, spec: LimitSpec): RateLimiterMemory {
  return new MemoryLimiter({ keyPrefix: name, points: spec.points, duration: spec.duration });
}

/** What a refused request is told (RFC 9110 Retry-After, IETF RateLimit-* headers). */
function limitedHeaders(spec: LimitSpec, result: RateLimiterRes): Record<string, string> {
  const seconds = String(Math.max(1, Math.ceil(result.msBeforeNext / 1000)));
  return {
    'retry-after': seconds,
    'ratelimit-limit': String(spec.points),
    'ratelimit-remaining': String(Math.max(0, result.remainingPoints)),
    'ratelimit-reset': seconds,
  };
}

/**
 * Atomic counters (rate-limiter-flexible): in Redis when REDIS_URL is set, so every
 * instance shares them, in memory otherwise. Counting and checking are one step (a Lua
 * script in Redis), so parallel requests cannot slip past a limit.
 *
 * Redis is a cache, not the truth (DESIGN.md): while it cannot answer, each limit is counted
 * by a per-instance in-memory limiter with the same budget (rate-limiter-flexible's
 * insurance limiter) instead of refusing every request with 503 — a 503 here would also
 * refuse sign-out and session deletion, the requests that must work during an outage.
 * With N instances a client gets up to N times each budget until Redis returns; the Redis
 * counters resume where they were.
 */
export class RateLimits {
  readonly #limiters: Map<LimitName, RateLimiterAbstract>;

  constructor(private readonly options: RateLimitsOptions) {
    this.#limiters = new Map(
      (Object.entries(options.limits) as [LimitName, LimitSpec][]).map(([name, spec]) => [
        name,
        options.redis
          ? new RateLimiterRedis({
              storeClient: options.redis,
              keyPrefix: `${options.keyPrefix}:${name}`,
              points: spec.points,
              duration: spec.duration,
              // Not ready (reconnecting): go to the insurance limiter at once rather than
              // send a command that can only fail.
              rejectIfRedisNotReady: true,
              // consume, reward (refund) and delete (clear) all fall back to it alike.
              insuranceLimiter: memoryLimiter(name, spec),
            })
          : memoryLimiter(name, spec),
      ]),
    );
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  /**
   * Counts one against `key` and returns how many the window now holds; over the limit it
   * throws 429 `rate_limited` with Retry-After.
   */
  async consume(name: LimitName, key: string): Promise<number> {
    if (!this.options.enabled) return 0;
    try {
      return (await this.#limiter(name).consume(key)).consumedPoints;
    } catch (error) {
      throw this.#failure(name, error);
    }
  }

  /**
   * Counts one mail a request asks for (a reset link, another verification link) against
   * its recipient's cap and the global one; over either, 429.
   */
  async consumeMail(kind: string, recipient: string): Promise<void> {
    await this.consume('mail_recipient', `${kind}|${recipient}`);
    try {
      await this.consume('mail_global', 'all');
    } catch (error) {
      await this.refund('mail_recipient', `${kind}|${recipient}`);
      throw error;
    }
  }

  /** Gives one back (a reserved failure that turned out a success). */
  async refund(name: LimitName, key: string): Promise<void> {
    if (!this.options.enabled) return;
    try {
      await this.#limiter(name).reward(key);
    } catch (error) {
      throw this.#failure(name, error);
    }
  }

  /** Forgets the key's count (an owner who proved themself by resetting the password). */
  async clear(name: LimitName, key: string): Promise<void> {
    if (!this.options.enabled) return;
    try {
      await this.#limiter(name).delete(key);
    } catch (error) {
      throw this.#failure(name, error);
    }
  }

  #limiter(name: LimitName): RateLimiterAbstract {
    const limiter = this.#limiters.get(name);
    if (!limiter) throw new Error(`no limiter ${name}`);
    return limiter;
  }

  #failure(name: LimitName, error: unknown): AppError {
    // Only a RateLimiterRes is a refusal; anything else is a store failure the insurance
    // limiter did not absorb (none is expected), and a limit that cannot be checked refuses.
    if (error instanceof RateLimiterRes) {
      this.options.onRejected?.(name);
      return new AppError(
        'rate_limited',
        'Too many attempts; try again later',
        undefined,
        limitedHeaders(this.options.limits[name], error),
      );
    }
    return new AppError('service_unavailable', 'Rate limits cannot be checked right now');
  }
}

// After this many failures from one source, each further failure is answered more slowly
// (SLOWDOWN_STEP_MS more each time, at most SLOWDOWN_MAX_MS) until the block at 10.
const SLOWDOWN_AFTER = 5;
const SLOWDOWN_STEP_MS = 100;
const SLOWDOWN_MAX_MS = 1_000;

/** Answers a failure late once a source has failed often: guessing slows down before the block. */
export async function slowDownAfterFailures(failuresFromSource: number): Promise<void> {
  const excess = failuresFromSource - SLOWDOWN_AFTER;
  if (excess <= 0) return;
  await new Promise((resolve) =>
    setTimeout(resolve, Math.min(excess * SLOWDOWN_STEP_MS, SLOWDOWN_MAX_MS)),
  );
}
