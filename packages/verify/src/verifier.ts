import {
  type JWTPayload,
  type JWTVerifyGetKey,
  createRemoteJWKSet,
  customFetch,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { type Fetch, type IssuerMetadata, issuerMetadataLoader } from './discovery.js';
import { VerifyError } from './errors.js';
import {
  type RevocationFollower,
  type RevocationFollowerOptions,
  followRevocations,
} from './revocations.js';
import { requireScopes, scopesOf } from './scopes.js';
import type { VerifiedToken } from './token.js';

/** The asymmetric algorithms Hyperion signs with; HS256 and `none` are never accepted. */
export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256';
const ASYMMETRIC: readonly SigningAlgorithm[] = ['EdDSA', 'ES256', 'RS256'];

/** RFC 9068: the `typ` header of Hyperion's access tokens (an ID token is `JWT`, and refused). */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface VerifierOptions {
  /** Hyperion's `PUBLIC_URL`: the `iss` of its tokens and where its metadata is found. */
  issuer: string;
  /** This service: a token's `aud` must include it (a registered resource's identifier). */
  audience: string;
  /** Scopes every token must hold (a route can ask for more through `verify`). */
  requiredScopes?: readonly string[];
  /** Seconds of clock skew allowed for `exp`/`nbf`/`iat` (default 5). */
  clockTolerance?: number;
  /** Replaces the global `fetch` for discovery, keys and the revocation feed. */
  fetch?: Fetch;
  /** Defaults to all three of Hyperion's; narrow it to the one your issuer uses. */
  algorithms?: readonly SigningAlgorithm[];
  /**
   * Milliseconds after fetching the keys during which a token with an unknown `kid` does not
   * fetch them again (default 30 000): a rotation is picked up once it has passed, and a flood
   * of forged `kid`s cannot turn into a flood of requests to the issuer.
   */
  jwksCooldown?: number;
  /**
   * Follow the issuer's revocation feed so a signed-out session's tokens are refused within
   * about a second instead of at their expiry (a service account with `revocations:read`).
   */
  revocations?: RevocationFollowerOptions;
}

export interface Verifier {
  readonly issuer: string;
  readonly audience: string;
  readonly requiredScopes: readonly string[];
  /**
   * Checks the signature (by the issuer's keys), `typ`, `iss`, `aud`, `exp`/`nbf`, the
   * required scopes (and `scopes`, if given) and, when following revocations, the session.
   * Throws `VerifyError` (401/403) for a bad token; any other error is an outage (answer 503).
   */
  verify(token: string, options?: { scopes?: readonly string[] }): Promise<VerifiedToken>;
  /** The issuer's discovered metadata (fetched once, kept). */
  metadata(): Promise<IssuerMetadata>;
  /** The revocation follower, when `revocations` was given. */
  readonly revocations: RevocationFollower | undefined;
  /** Stops following revocations. */
  close(): Promise<void>;
}

/** A verifier for one audience of one issuer; build it once and share it. */
export function createVerifier(options: VerifierOptions): Verifier {
  const fetcher = options.fetch ?? globalThis.fetch;
  const metadata = issuerMetadataLoader(options.issuer, fetcher);
  const algorithms = (options.algorithms ?? ASYMMETRIC).filter((alg) => ASYMMETRIC.includes(alg));
  if (algorithms.length === 0) throw new Error('createVerifier: no asymmetric algorithm allowed');
  const requiredScopes = [...(options.requiredScopes ?? [])];
  let keys: Promise<JWTVerifyGetKey> | undefined;
  const keySet = () => {
    keys ??= metadata().then((found) =>
      createRemoteJWKSet(new URL(found.jwks_uri), {
        cooldownDuration: options.jwksCooldown ?? 30_000,
        [customFetch]: fetcher,
      }),
    );
    // A failed discovery is not kept: the next token tries again.
    keys.catch(() => (keys = undefined));
    return keys;
  };
  const revocations = options.revocations
    ? followRevocations({ issuer: options.issuer, metadata, fetch: fetcher }, options.revocations)
    : undefined;

  const verify: Verifier['verify'] = async (token, extra = {}) => {
    const getKey = await keySet();
    const payload = await checkJwt(token, getKey, {
      issuer: (await metadata()).issuer,
      audience: options.audience,
      algorithms,
      clockTolerance: options.clockTolerance ?? 5,
    });
    const verified = toVerifiedToken(token, payload);
    if (revocations) {
      if (typeof payload.iat === 'number')
        revocations.sawTokenLifetime(verified.expiresAt - payload.iat);
      await revocations.ready();
      if (verified.sessionId && revocations.isRevoked(verified.sessionId))
        throw new VerifyError('invalid_token', 'The session has been revoked');
    }
    requireScopes(verified, [...requiredScopes, ...(extra.scopes ?? [])]);
    return verified;
  };

  return {
    issuer: options.issuer,
    audience: options.audience,
    requiredScopes,
    verify,
    metadata,
    revocations,
    close: async () => revocations?.close(),
  };
}

interface JwtChecks {
  issuer: string;
  audience: string;
  algorithms: readonly string[];
  clockTolerance: number;
}

async function checkJwt(token: string, getKey: JWTVerifyGetKey, checks: JwtChecks) {
  try {
    const { payload } = await jwtVerify(token, getKey, {
      issuer: checks.issuer,
      audience: checks.audience,
      algorithms: [...checks.algorithms],
      typ: ACCESS_TOKEN_TYPE,
      clockTolerance: checks.clockTolerance,
      requiredClaims: ['sub', 'exp'],
    });
    return payload;
  } catch (error) {
    throw verdictOf(error);
  }
}

/**
 * A jose failure about the token → 401. The key set being unreachable or broken (a timeout,
 * a non-200 answer, a network error) stays what it is: an outage, never a verdict.
 */
function verdictOf(error: unknown): unknown {
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid)
    return error;
  if (error instanceof joseErrors.JWTExpired)
    return new VerifyError('invalid_token', 'The access token has expired');
  if (error instanceof joseErrors.JOSEError) {
    // ERR_JOSE_GENERIC: jose's "Expected 200 OK from the JSON Web Key Set HTTP response".
    if (error.code === 'ERR_JOSE_GENERIC') return error;
    return new VerifyError('invalid_token', `The access token is not valid (${error.code})`);
  }
  return error;
}

function toVerifiedToken(token: string, payload: JWTPayload): VerifiedToken {
  const { sub, aud, exp, client_id: clientId, sid, act } = payload;
  if (typeof sub !== 'string' || typeof exp !== 'number')
    throw new VerifyError('invalid_token', 'The access token has no sub or exp');
  return {
    token,
    sub,
    scopes: scopesOf(payload['scope']),
    ...(typeof clientId === 'string' ? { clientId } : {}),
    ...(typeof sid === 'string' ? { sessionId: sid } : {}),
    ...(isActor(act) ? { act } : {}),
    audience: typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [],
    expiresAt: exp,
    claims: payload,
  };
}

function isActor(value: unknown): value is { sub: string; [claim: string]: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { sub?: unknown }).sub === 'string'
  );
}
