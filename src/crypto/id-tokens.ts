import { createHash } from 'node:crypto';
import { type JWTPayload, SignJWT, jwtVerify } from 'jose';
import { type Clock, toEpochSeconds } from '../lib/clock.js';
import type { SigningKeys } from './signing-keys.js';

/** What an ID token says about the sign-in it reports (OIDC Core §2). */
export interface IdTokenClaims {
  sub: string;
  /** The client it is for. */
  aud: string;
  authTime: Date;
  nonce: string | null;
  /** The browser session (the OP session) the sign-in lives in. */
  sid: string;
  amr: readonly string[];
  /** The access token issued with it, for `at_hash`. */
  accessToken?: string;
  /** User-info claims released into the ID token (none by default: userinfo carries them). */
  extra?: Readonly<Record<string, unknown>>;
}

/** The subject and audience of an ID token we signed, read back from `id_token_hint`. */
export interface IdTokenHint {
  sub: string;
  aud: string[];
  sid: string | undefined;
}

/**
 * OIDC Core §3.1.3.6: the left half of the access token's hash, with the hash function of the
 * token's signature: SHA-256 for ES256, RS256 and HS256; SHA-512 for EdDSA over Ed25519 (as
 * OpenID's EdDSA profile and openid-client / oauth4webapi compute it).
 */
export function atHash(accessToken: string, algorithm: string): string {
  const hash = algorithm === 'EdDSA' ? 'sha512' : 'sha256';
  const digest = createHash(hash).update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** Signs ID tokens with the current signing key, and reads back the ones given as hints. */
export class IdTokens {
  constructor(
    private readonly keys: SigningKeys,
    private readonly clock: Clock,
    private readonly options: { issuer: string; ttlSeconds: number },
  ) {}

  async sign(claims: IdTokenClaims): Promise<string> {
    const { kid, algorithm, key } = this.keys.signingKey();
    const iat = toEpochSeconds(this.clock.now());
    const payload: JWTPayload = {
      ...claims.extra,
      auth_time: toEpochSeconds(claims.authTime),
      sid: claims.sid,
      amr: [...claims.amr],
    };
    if (claims.nonce !== null) payload['nonce'] = claims.nonce;
    if (claims.accessToken) payload['at_hash'] = atHash(claims.accessToken, algorithm);
    return new SignJWT(payload)
      .setProtectedHeader({ alg: algorithm, kid, typ: 'JWT' })
      .setIssuer(this.options.issuer)
      .setSubject(claims.sub)
      .setAudience(claims.aud)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.options.ttlSeconds)
      .sign(key);
  }

  /**
   * An `id_token_hint` (authorize, RP-initiated logout): signed by one of our keys, issued
   * by us, possibly expired (OIDC allows an expired hint). Undefined for anything else.
   */
  async readHint(token: string): Promise<IdTokenHint | undefined> {
    if (token.length > 8192) return undefined;
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          const key = header.kid ? await this.keys.findVerificationKey(header.kid) : undefined;
          if (!key || key.algorithm !== header.alg) throw new Error('unknown key');
          return key.key;
        },
        {
          issuer: this.options.issuer,
          algorithms: this.keys.algorithms(),
          typ: 'JWT',
          // Expired hints are still hints; a year's tolerance keeps the check meaningful.
          clockTolerance: 365 * 24 * 3600,
          currentDate: this.clock.now(),
          requiredClaims: ['sub', 'aud'],
        },
      );
      const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud as string];
      const sid = typeof payload['sid'] === 'string' ? payload['sid'] : undefined;
      return { sub: payload.sub as string, aud, sid };
    } catch {
      return undefined;
    }
  }
}
