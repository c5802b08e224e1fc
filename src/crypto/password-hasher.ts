import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import type { PasswordHashingConfig } from '../config/config.js';

export interface PasswordCheck {
  ok: boolean;
  /** The hash is bcrypt or weaker argon2 parameters: store a fresh argon2id hash. */
  needsRehash: boolean;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<PasswordCheck>;
  /**
   * Does the work of a verification against a hash no password matches, so that an
   * unknown e-mail costs the same time as a wrong password.
   */
  verifyDummy(password: string): Promise<void>;
  /** Milliseconds each hash or verify took, for metrics. */
  onTiming?: (operation: 'hash' | 'verify', ms: number) => void;
}

const BCRYPT_PREFIX = /^\$2[aby]\$\d{2}\$/;

// Whole-string forms, for hashes imported from another service: a truncated or mangled
// hash is refused at import rather than failing every sign-in later.
const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;
const ARGON2_PHC_HASH =
  /^\$argon2(id|i|d)\$(v=\d+\$)?[a-z]+=\d+(,[a-z]+=\d+)*\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/;

/** A hash this service can verify: argon2 (any variant, PHC form) or bcrypt ($2a/$2b/$2y). */
export function isSupportedPasswordHash(hash: string): boolean {
  return BCRYPT_HASH.test(hash) || ARGON2_PHC_HASH.test(hash);
}

/** Runs at most `limit` tasks at once; the others wait their turn in arrival order. */
function createLimiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running < limit) running++;
    // A finishing task hands its slot straight to the next in line.
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

export interface PasswordHasherOptions {
  /**
   * Hashes and verifications run at once; the others queue. Default: the number of cores.
   * More than that adds no throughput (argon2 is CPU- and memory-bound) but costs 19 MiB
   * each, and occupies libuv's pool (4 workers), which JWT signing and verification
   * (WebCrypto), DNS and file access need too: with every worker hashing, a sign-in storm
   * stalled every token signature behind a whole hash.
   */
  concurrency?: number;
}

/**
 * argon2id on libuv's thread pool (the native addon never runs on the event loop);
 * bcrypt hashes from older services verify too (also native, also off the loop) and
 * are flagged for re-hashing.
 */
export async function createPasswordHasher(
  params: PasswordHashingConfig,
  hasherOptions: PasswordHasherOptions = {},
): Promise<PasswordHasher> {
  const limit = createLimiter(Math.max(1, hasherOptions.concurrency ?? availableParallelism()));
  const options = {
    type: argon2.argon2id,
    memoryCost: params.memoryKib,
    timeCost: params.iterations,
    parallelism: params.parallelism,
  } as const;

  const verifyNow = async (hash: string, password: string): Promise<PasswordCheck> => {
    const started = performance.now();
    try {
      if (BCRYPT_PREFIX.test(hash)) {
        // bcrypt reads only the first 72 bytes; the policy caps passwords at 128 characters,
        // so a legacy hash may match a longer password, as it did in the older service.
        const ok = await bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2b$'));
        return { ok, needsRehash: ok };
      }
      const ok = await argon2.verify(hash, password).catch(() => false);
      return { ok, needsRehash: ok && argon2.needsRehash(hash, options) };
    } finally {
      hasher.onTiming?.('verify', performance.now() - started);
    }
  };

  const hasher: PasswordHasher = {
    hash: (password) =>
      limit(async () => {
        const started = performance.now();
        const hash = await argon2.hash(password, options);
        hasher.onTiming?.('hash', performance.now() - started);
        return hash;
      }),
    // The dummy verification of an unknown e-mail waits its turn too: same queue, same timing.
    verify: (hash, password) => limit(() => verifyNow(hash, password)),
    async verifyDummy(password) {
      await hasher.verify(dummyHash, password);
    },
  };
  const dummyHash = await argon2.hash(randomBytes(32).toString('base64'), options);
  return hasher;
}
