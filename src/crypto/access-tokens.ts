import { randomUUID } from 'node:crypto';
import { type JWTPayload, SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { AppError } from '../errors.js';
import { setBounded } from '../lib/bounded-map.js';
import { type Clock, toEpochSeconds } from '../lib/clock.js';
import type { SigningKeys } from './signing-keys.js';

/** The `typ` header of access tokens (RFC 9068), checked on verification. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface AccessTokenSubject {
  /** User id, or a service account's client id. */
  sub: string;
  /** Session id; absent on service tokens. */
  sid?: string;
  email?: string;
  roles?: readonly string[];
  /** Space-separated scopes of a service token. */
  scope?: string;
  /** RFC 9068: the client the token was issued to (service tokens). */
  client_id?: string;
  /** RFC 8693 §4.1: who acts for the subject (a token exchange's client), prior actors nested. */
  act?: ActorClaim;
}

/** RFC 8693 §4.1 `act`: the current actor, with the actor before it nested inside. */
export interface ActorClaim {
  sub: string;
  act?: ActorClaim;
}

export interface VerifiedAccessToken {
  sub: string;
  sid: string | undefined;
  email: string | undefined;
  roles: string[];
  scope: string | undefined;
  /** RFC 9068: the OAuth client the token was issued to (client grants, service tokens). */
  clientId: string | undefined;
  aud: string[];
  /** RFC 8693: set on a token issued by a token exchange. */
  act: ActorClaim | undefined;
  jti: string;
  iat: number;
  exp: number;
}

export interface AccessTokenOptions {
  issuer: string;
  audience: string;
  /** Told of every token signed: a user's (it has a session) or a service account's. */
  onIssued?: (kind: 'user' | 'service') => void;
}

/** A token whose signature and claims checked out, with the key that vouched for it. */
interface VerifiedEntry {
  token: VerifiedAccessToken;
  kid: string;
  algorithm: string;
}

// Tokens verified recently, by their exact text. A gateway sends the same access token with
// every request of a session for ACCESS_TOKEN_TTL; checking its signature again each time
// is the largest cost of forward auth (an Ed25519 verification costs more than the rest of
// the request). Bounded, so memory stays flat: about 1 KB an entry.
const VERIFIED_CACHE_MAX = 10_000;

/** Signs and verifies the JWT access tokens that other services check offline from the JWKS. */
export class AccessTokens {
  readonly #verified = new Map<string, VerifiedEntry>();

  constructor(
    private readonly keys: SigningKeys,
    private readonly clock: Clock,
    private readonly options: AccessTokenOptions,
  ) {}

  /**
   * `audience` replaces JWT_AUDIENCE for a token bound to one resource (RFC 8707); such a
   * token is for that resource server, and this service's own routes do not accept it.
   */
  async sign(
    subject: AccessTokenSubject,
    ttlSeconds: number,
    options: { audience?: string } = {},
  ): Promise<string> {
    // Re-reads the store now and then: another instance may have rotated the key.
    const { kid, algorithm, key } = this.keys.signingKey();
    const iat = toEpochSeconds(this.clock.now());
    const claims: JWTPayload = {
      ...subject,
      roles: subject.roles ? [...subject.roles] : undefined,
    };
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: algorithm, kid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(this.options.issuer)
      .setAudience(options.audience ?? this.options.audience)
      .setSubject(subject.sub)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .setJti(randomUUID())
      .sign(key);
    this.options.onIssued?.(subject.sid ? 'user' : 'service');
    return token;
  }

  /**
   * Verifies signature, algorithm, issuer, audience, type and lifetime. The algorithm is
   * pinned per key: a token must carry its key's own algorithm, so `none` and algorithm
   * confusion (an RSA public key used as an HMAC secret) are refused.
   *
   * `audiences` replaces JWT_AUDIENCE as what `aud` must name (one of them): only forward
   * auth, for a URL under a registered resource, and a token exchange read tokens bound to a
   * resource; every route keeps the default.
   */
  async verify(
    token: string,
    audiences: readonly string[] = [this.options.audience],
  ): Promise<VerifiedAccessToken> {
    const remembered = await this.#fromCache(token, audiences);
    if (remembered) return remembered;
    try {
      let vouching: { kid: string; algorithm: string } | undefined;
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          const key = header.kid ? await this.keys.findVerificationKey(header.kid) : undefined;
          if (!key || key.algorithm !== header.alg)
            throw new AppError('unauthorized', 'Unknown signing key');
          vouching = { kid: key.kid, algorithm: key.algorithm };
          return key.key;
        },
        {
          issuer: this.options.issuer,
          audience: [...audiences],
          algorithms: this.keys.algorithms(),
          typ: ACCESS_TOKEN_TYPE,
          currentDate: this.clock.now(),
          requiredClaims: ['sub', 'iat', 'exp', 'jti'],
        },
      );
      const verified = toVerified(payload);
      if (vouching) this.#remember(token, { token: verified, ...vouching });
      return copyOf(verified);
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        throw new AppError('token_expired', 'The access token has expired');
      // The key store could not be read (an unknown kid triggers a reload): that is an
      // outage, answered 503, not a verdict on the token.
      if (this.keys.isStoreUnavailable(error))
        throw new AppError('service_unavailable', 'The signing keys cannot be read right now');
      throw new AppError('unauthorized', 'The access token is not valid');
    }
  }

  /**
   * A token verified before, re-checked for what can change since: its expiry (against the
   * injected clock, exactly as jose checks `exp`) and whether its key still verifies (not
   * retired past its window, not gone from the store). Only a full verification puts a
   * token here, keyed by its whole text, so an altered token is never a hit. The session is
   * still checked on every request by the caller: revocation stays immediate.
   */
  async #fromCache(
    token: string,
    audiences: readonly string[],
  ): Promise<VerifiedAccessToken | undefined> {
    const entry = this.#verified.get(token);
    if (!entry) return undefined;
    // A token cached by a check with other audiences (forward auth's for a resource, a token
    // exchange's) is judged afresh, so a resource's token never passes where JWT_AUDIENCE is
    // required.
    if (!entry.token.aud.some((aud) => audiences.includes(aud))) return undefined;
    // A known kid is a map lookup; an unknown one re-reads the store, whose failure the
    // full verification below reports (503).
    const key = await this.keys.findVerificationKey(entry.kid).catch(() => undefined);
    if (!key || key.algorithm !== entry.algorithm) {
      this.#verified.delete(token);
      return undefined;
    }
    if (entry.token.exp <= toEpochSeconds(this.clock.now())) {
      this.#verified.delete(token);
      throw new AppError('token_expired', 'The access token has expired');
    }
    return copyOf(entry.token);
  }

  #remember(token: string, entry: VerifiedEntry): void {
    setBounded(this.#verified, token, entry, VERIFIED_CACHE_MAX);
  }
}

/** Callers get their own copy: the cached one must not change under a later request. */
function copyOf(token: VerifiedAccessToken): VerifiedAccessToken {
  return {
    ...token,
    roles: [...token.roles],
    aud: [...token.aud],
    act: token.act && structuredClone(token.act),
  };
}

function toVerified(payload: JWTPayload): VerifiedAccessToken {
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const roles = Array.isArray(payload['roles'])
    ? payload['roles'].filter((r) => typeof r === 'string')
    : [];
  return {
    sub: payload.sub as string,
    sid: text(payload['sid']),
    email: text(payload['email']),
    roles,
    scope: text(payload['scope']),
    clientId: text(payload['client_id']),
    aud: Array.isArray(payload.aud) ? payload.aud : payload.aud ? [payload.aud] : [],
    act: actorClaim(payload['act']),
    jti: payload.jti as string,
    iat: payload.iat as number,
    exp: payload.exp as number,
  };
}

/** An `act` claim as RFC 8693 §4.1 shapes it (a `sub`, perhaps a nested `act`), else none. */
function actorClaim(value: unknown, depth = 0): ActorClaim | undefined {
  // A chain deeper than this is not one we issued (each exchange adds one level).
  if (depth > 16 || typeof value !== 'object' || value === null) return undefined;
  const { sub, act } = value as { sub?: unknown; act?: unknown };
  if (typeof sub !== 'string') return undefined;
  const prior = actorClaim(act, depth + 1);
  return prior ? { sub, act: prior } : { sub };
}
