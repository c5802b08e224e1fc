import type { JWK } from 'jose';

/** A key as the store holds it, its JWKs as stored JSON (the private one never published). */
export interface StoredSigningKey {
  kid: string;
  algorithm: string;
  public_jwk: object | null;
  private_jwk: object | null;
  created_at: Date;
  retired_at: Date | null;
  verify_until: Date | null;
}

export interface NewSigningKey {
  kid: string;
  algorithm: string;
  publicJwk: JWK;
  privateJwk: JWK;
  createdAt: Date;
}

/** The store's operations while it is locked against every other instance. */
export interface LockedSigningKeyStore {
  findCurrent(): Promise<{ kid: string; algorithm: string } | undefined>;
  retire(kid: string, at: Date, verifyUntil: Date): Promise<void>;
  insert(key: NewSigningKey): Promise<void>;
}

/**
 * Where the keys live, shared by every instance: the database, through
 * db/signing-keys.repository.ts. An interface, so that crypto/ holds no SQL and imports
 * nothing of db/.
 */
export interface SigningKeyStore {
  /** The current key and every retired key still verifying at `now`, newest first. */
  findLive(now: Date): Promise<StoredSigningKey[]>;
  /** Runs `change` in one transaction, holding a lock that every instance takes to change keys. */
  withLock<T>(change: (store: LockedSigningKeyStore) => Promise<T>): Promise<T>;
  /** Whether an error means the store could not answer (an outage, not a verdict on a token). */
  isUnavailable(error: unknown): boolean;
}
