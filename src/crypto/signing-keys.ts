import { createHash } from 'node:crypto';
import {
  type CryptoKey,
  type JWK,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
} from 'jose';
import { JWT_ALGORITHMS, type JwtAlgorithm } from '../config/config.js';
import { type Clock, addSeconds } from '../lib/clock.js';
import type { SigningKeyStore, StoredSigningKey } from './signing-key-store.js';

export interface SigningKeysOptions {
  algorithm: JwtAlgorithm;
  /** Required for HS256: the shared secret, which never leaves configuration. */
  secret: string | undefined;
  /** A retired key keeps verifying this long: every token it signed has expired by then. */
  accessTokenTtl: number;
  /** Where a failed background re-read of the store is reported (the old keys stay in use). */
  onRefreshError?: (error: unknown) => void;
}

interface VerificationKey {
  kid: string;
  algorithm: string;
  key: CryptoKey | Uint8Array;
  publicJwk: JWK | undefined;
  verifyUntil: Date | undefined;
}

export interface SigningKey {
  kid: string;
  algorithm: JwtAlgorithm;
  key: CryptoKey | Uint8Array;
}

// An unknown kid triggers a reload (another instance rotated), at most this often: a flood
// of made-up kids must not turn into a flood of database reads.
const RELOAD_MIN_INTERVAL_MS = 5_000;
/**
 * Another instance (or `hyperion-auth keys rotate`) may rotate at any time: an instance
 * that signs or publishes this long after its last read of the store reads it again, so it
 * signs with a retired key for little more than this long.
 */
export const KEY_REFRESH_INTERVAL_SECONDS = 30;
/**
 * A retired key verifies for ACCESS_TOKEN_TTL plus this margin, which covers the tokens
 * other instances signed with it before they noticed the rotation (and some clock skew).
 */
export const RETIRED_KEY_MARGIN_SECONDS = 60;
// Members a public JWK may carry; anything else (`d`, `p`, `q`, `k`, …) never leaves.
const PUBLIC_JWK_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

/** A key as the JWKS publishes it: public members only. */
export type PublishedJwk = Pick<JWK, (typeof PUBLIC_JWK_MEMBERS)[number]> & {
  kty: string;
  kid: string;
  alg: string;
  use: 'sig';
};

/**
 * The service's signing keys: the current one signs, retired ones keep verifying until
 * the tokens they signed have expired, and the public halves make up the JWKS. Keys live
 * in the database so that every instance signs with the same key.
 */
export class SigningKeys {
  #current!: SigningKey;
  #verification = new Map<string, VerificationKey>();
  /** When the store was last read, on the injected clock (ms). */
  #lastReload = 0;
  /** The reload under way, shared by every caller that wants one meanwhile. */
  #reloading: Promise<void> | undefined;

  private constructor(
    private readonly store: SigningKeyStore,
    private readonly clock: Clock,
    private readonly options: SigningKeysOptions,
  ) {}

  /** Loads the keys, creating the first one (or one for a newly configured algorithm). */
  static async load(
    store: SigningKeyStore,
    clock: Clock,
    options: SigningKeysOptions,
  ): Promise<SigningKeys> {
    const keys = new SigningKeys(store, clock, options);
    await keys.#ensureCurrentKey(false);
    await keys.reload();
    return keys;
  }

  /** The key that signs, as last read from the store; prefer signingKey() before signing. */
  get current(): SigningKey {
    return this.#current;
  }

  /**
   * The key to sign with. If the store may have rotated elsewhere, a re-read starts in the
   * background rather than being awaited: signing happens inside callers' transactions,
   * where waiting for another read could deadlock (the embedded database has one
   * connection). RETIRED_KEY_MARGIN_SECONDS covers the tokens signed meanwhile.
   */
  signingKey(): SigningKey {
    if (this.#sinceReloadMs() >= KEY_REFRESH_INTERVAL_SECONDS * 1000) {
      this.#reloadOnce().catch((error: unknown) => this.options.onRefreshError?.(error));
    }
    return this.#current;
  }

  /** Re-reads the store if it was last read more than KEY_REFRESH_INTERVAL_SECONDS ago. */
  async refreshIfStale(): Promise<void> {
    if (this.#sinceReloadMs() >= KEY_REFRESH_INTERVAL_SECONDS * 1000) await this.#reloadOnce();
  }

  /** Makes a new key current; the old one verifies for one more access-token lifetime. */
  async rotate(): Promise<string> {
    if (this.options.algorithm === 'HS256') {
      throw new Error('HS256 keys come from JWT_SECRET: change the secret to rotate');
    }
    await this.#ensureCurrentKey(true);
    await this.reload();
    return this.#current.kid;
  }

  async reload(): Promise<void> {
    const now = this.clock.now();
    this.#lastReload = now.getTime();
    const rows = await this.store.findLive(now);
    const verification = new Map<string, VerificationKey>();
    let current: SigningKey | undefined;
    for (const row of rows) {
      const entry = await toVerificationKey(row);
      verification.set(entry.kid, entry);
      // The store's current key signs, whichever algorithm this instance was started with:
      // another instance may have switched algorithm, and all of them must agree on one key.
      if (row.retired_at === null && row.private_jwk && isAlgorithm(row.algorithm)) {
        const privateKey = await importJWK(row.private_jwk as JWK, row.algorithm);
        current = { kid: row.kid, algorithm: row.algorithm, key: privateKey };
      }
    }
    if (this.options.algorithm === 'HS256') {
      current = symmetricKey(this.options.secret ?? '');
      verification.set(current.kid, { ...current, publicJwk: undefined, verifyUntil: undefined });
    }
    if (!current) throw new Error('no current signing key');
    this.#current = current;
    this.#verification = verification;
  }

  /** The key for a token's `kid`, reloading once in a while in case another instance rotated. */
  async findVerificationKey(kid: string): Promise<VerificationKey | undefined> {
    let key = this.#verification.get(kid);
    if (!key && this.#sinceReloadMs() >= RELOAD_MIN_INTERVAL_MS) {
      await this.#reloadOnce();
      key = this.#verification.get(kid);
    }
    if (key?.verifyUntil && key.verifyUntil <= this.clock.now()) return undefined;
    return key;
  }

  /** The public keys that may have signed a live token; symmetric keys are never published. */
  jwks(): { keys: PublishedJwk[] } {
    const now = this.clock.now();
    const keys = [...this.#verification.values()]
      .filter((k) => k.publicJwk && (!k.verifyUntil || k.verifyUntil > now))
      .map((k) => ({
        ...publicMembers(k.publicJwk!),
        kty: k.publicJwk!.kty ?? '',
        kid: k.kid,
        alg: k.algorithm,
        use: 'sig' as const,
      }));
    return { keys };
  }

  /**
   * Algorithms a token may carry. Every algorithm the service supports, not only those of
   * the keys known right now: a token of another instance that switched algorithm must
   * reach findVerificationKey (which reloads). The key's own algorithm is still enforced
   * per token, and `none` is never on the list.
   */
  algorithms(): string[] {
    return JWT_ALGORITHMS.filter((alg) => alg !== 'HS256' || this.options.algorithm === 'HS256');
  }

  /** Whether an error of a key lookup means the store could not answer (a 503, not a 401). */
  isStoreUnavailable(error: unknown): boolean {
    return this.store.isUnavailable(error);
  }

  #sinceReloadMs(): number {
    return this.clock.now().getTime() - this.#lastReload;
  }

  #reloadOnce(): Promise<void> {
    this.#reloading ??= this.reload().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async #ensureCurrentKey(forceNew: boolean): Promise<void> {
    const { algorithm, accessTokenTtl } = this.options;
    // Instances starting together take turns, so only one of them creates the key.
    await this.store.withLock(async (store) => {
      const now = this.clock.now();
      const current = await store.findCurrent();
      const wanted = algorithm === 'HS256' ? undefined : algorithm;
      if (current && current.algorithm === wanted && !forceNew) return;
      if (current) {
        const verifyUntil = addSeconds(now, accessTokenTtl + RETIRED_KEY_MARGIN_SECONDS);
        await store.retire(current.kid, now, verifyUntil);
      }
      if (wanted) {
        const generated = await generateSigningKey(wanted);
        await store.insert({
          kid: generated.kid,
          algorithm: wanted,
          publicJwk: generated.publicJwk,
          privateJwk: generated.privateJwk,
          createdAt: now,
        });
      }
    });
  }
}

async function generateSigningKey(algorithm: Exclude<JwtAlgorithm, 'HS256'>) {
  const pair =
    algorithm === 'EdDSA'
      ? await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
      : await generateKeyPair(algorithm, { extractable: true, modulusLength: 2048 });
  const publicJwk = await exportJWK(pair.publicKey);
  const privateJwk = await exportJWK(pair.privateKey);
  // The RFC 7638 thumbprint: a kid that names the key itself.
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, publicJwk, privateJwk };
}

async function toVerificationKey(
  row: Pick<StoredSigningKey, 'kid' | 'algorithm' | 'public_jwk' | 'verify_until' | 'retired_at'>,
): Promise<VerificationKey> {
  const publicJwk = row.public_jwk as JWK;
  return {
    kid: row.kid,
    algorithm: row.algorithm,
    key: (await importJWK(publicJwk, row.algorithm)) as CryptoKey,
    publicJwk,
    verifyUntil: row.retired_at ? (row.verify_until ?? undefined) : undefined,
  };
}

function isAlgorithm(value: string): value is Exclude<JwtAlgorithm, 'HS256'> {
  return value !== 'HS256' && (JWT_ALGORITHMS as readonly string[]).includes(value);
}

/** Only the public members of a key, whatever the stored JWK holds. */
function publicMembers(jwk: JWK): JWK {
  const out: JWK = {};
  for (const member of PUBLIC_JWK_MEMBERS) if (jwk[member] !== undefined) out[member] = jwk[member];
  return out;
}

function symmetricKey(secret: string): SigningKey {
  const kid = `hs-${createHash('sha256').update(secret).digest('base64url').slice(0, 16)}`;
  return { kid, algorithm: 'HS256', key: new TextEncoder().encode(secret) };
}
