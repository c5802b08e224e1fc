import { randomUUID } from 'node:crypto';
import { type JWTPayload, SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { isDatabaseUnavailable } from '../db/pg-errors.js';
import { AppError } from '../errors.js';
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
}

export interface VerifiedAccessToken {
  sub: string;
  sid: string | undefined;
  email: string | undefined;
  roles: string[];
  scope: string | undefined;
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

/** Signs and verifies the JWT access tokens that other services check offline from the JWKS. */
export class AccessTokens {
  constructor(
    private readonly keys: SigningKeys,
    private readonly clock: Clock,
    private readonly options: AccessTokenOptions,
  ) {}

  async sign(subject: AccessTokenSubject, ttlSeconds: number): Promise<string> {
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
      .setAudience(this.options.audience)
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
   */
  async verify(token: string): Promise<VerifiedAccessToken> {
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          const key = header.kid ? await this.keys.findVerificationKey(header.kid) : undefined;
          if (!key || key.algorithm !== header.alg)
            throw new AppError('unauthorized', 'Unknown signing key');
          return key.key;
        },
        {
          issuer: this.options.issuer,
          audience: this.options.audience,
          algorithms: this.keys.algorithms(),
          typ: ACCESS_TOKEN_TYPE,
          currentDate: this.clock.now(),
          requiredClaims: ['sub', 'iat', 'exp', 'jti'],
        },
      );
      return toVerified(payload);
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        throw new AppError('token_expired', 'The access token has expired');
      // The key store could not be read (an unknown kid triggers a reload): that is an
      // outage, answered 503, not a verdict on the token.
      if (isDatabaseUnavailable(error))
        throw new AppError('service_unavailable', 'The signing keys cannot be read right now');
      throw new AppError('unauthorized', 'The access token is not valid');
    }
  }
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
    jti: payload.jti as string,
    iat: payload.iat as number,
    exp: payload.exp as number,
  };
}
