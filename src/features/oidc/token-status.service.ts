import { decodeJwt } from 'jose';
import type { VerifiedAccessToken } from '../../crypto/access-tokens.js';
import type { ClientContext } from '../../lib/client.js';
import { toEpochSeconds } from '../../lib/clock.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import type { ResourceLookup } from './oidc.ports.js';
import type { OAuthClient } from './oidc.types.js';

export interface TokenStatusServiceDeps {
  sessions: Pick<SessionsService, 'findRefreshTokenState' | 'revokeSession'>;
  /**
   * An access token that is valid now: signature, issuer, audience, expiry, and its session
   * (or service account) still live. Throws otherwise. Built from the same verifier that
   * guards every route, so introspection can never say "active" where a route would refuse.
   * `audiences` replaces JWT_AUDIENCE (a token bound to a registered protected API).
   */
  verifyLiveAccessToken(raw: string, audiences?: readonly string[]): Promise<VerifiedAccessToken>;
  /** Reads a token's claims whatever its state, for revocation (undefined if not ours). */
  readAccessToken(
    raw: string,
    audiences?: readonly string[],
  ): Promise<VerifiedAccessToken | undefined>;
  /** The protected APIs: a token bound to one (RFC 8707) is as much ours as any. */
  resources: ResourceLookup;
  issuer: string;
}

/** RFC 7662's answer. */
export type Introspection =
  | { active: false }
  | {
      active: true;
      sub: string;
      client_id?: string;
      scope?: string;
      exp: number;
      iat?: number;
      aud: string[];
      iss: string;
      token_type: string;
      sid?: string;
      jti?: string;
    };

const looksLikeJwt = (token: string) => token.split('.').length === 3;

/** Revocation (RFC 7009) and introspection (RFC 7662) of the tokens a client holds. */
export class TokenStatusService {
  constructor(private readonly deps: TokenStatusServiceDeps) {}

  /**
   * Revokes what the token stands for — a refresh token's grant, or an access token's session —
   * when it was issued to this client. Anything else (unknown, expired, another client's) is
   * left alone and, as RFC 7009 §2.2 asks, answered the same: the caller learns nothing.
   */
  async revoke(token: string, client: OAuthClient, context: ClientContext): Promise<void> {
    const { sessions } = this.deps;
    if (!looksLikeJwt(token)) {
      const state = await sessions.findRefreshTokenState(token);
      if (state && state.clientId === client.client_id && state.active)
        await sessions.revokeSession(state.sessionId, state.userId, 'client_revoked', context);
      return;
    }
    const claims =
      (await this.deps.readAccessToken(token)) ??
      (await this.deps.readAccessToken(token, await this.#registeredAudiences(token)));
    if (claims?.sid && claims.clientId === client.client_id)
      await sessions.revokeSession(claims.sid, claims.sub, 'client_revoked', context);
  }

  /**
   * Whether a token is active now, and what it carries. Access tokens are answered for any
   * confidential client (resource servers introspect tokens issued to others); refresh tokens
   * only to the client they were issued to.
   */
  async introspect(token: string, client: OAuthClient): Promise<Introspection> {
    if (!looksLikeJwt(token)) {
      const state = await this.deps.sessions.findRefreshTokenState(token);
      if (!state || !state.active || state.clientId !== client.client_id) return { active: false };
      return {
        active: true,
        sub: state.userId,
        client_id: client.client_id,
        scope: state.scopes.join(' '),
        exp: toEpochSeconds(state.expiresAt),
        aud: [client.client_id],
        iss: this.deps.issuer,
        token_type: 'refresh_token',
        sid: state.sessionId,
      };
    }
    let claims: VerifiedAccessToken;
    try {
      claims = await this.#verifyLive(token);
    } catch {
      return { active: false };
    }
    return {
      active: true,
      sub: claims.sub,
      ...(claims.clientId ? { client_id: claims.clientId } : {}),
      ...(claims.scope !== undefined ? { scope: claims.scope } : {}),
      exp: claims.exp,
      iat: claims.iat,
      aud: claims.aud,
      iss: this.deps.issuer,
      token_type: 'bearer',
      ...(claims.sid ? { sid: claims.sid } : {}),
      jti: claims.jti,
    };
  }

  /**
   * A live access token for this service, or else for the registered protected API its `aud`
   * names: that API's resource server is the one that introspects it.
   */
  async #verifyLive(token: string): Promise<VerifiedAccessToken> {
    try {
      return await this.deps.verifyLiveAccessToken(token);
    } catch (error) {
      const audiences = await this.#registeredAudiences(token);
      if (audiences.length === 0) throw error;
      return this.deps.verifyLiveAccessToken(token, audiences);
    }
  }

  /** The registered protected APIs a token claims to be for (read before it is verified). */
  async #registeredAudiences(token: string): Promise<string[]> {
    let aud: unknown;
    try {
      aud = decodeJwt(token).aud;
    } catch {
      return [];
    }
    const claimed = (Array.isArray(aud) ? aud : [aud]).filter(
      (value): value is string => typeof value === 'string',
    );
    const found = await Promise.all(
      claimed.slice(0, 4).map((identifier) => this.deps.resources.findResource(identifier)),
    );
    return found.flatMap((resource) => (resource ? [resource.identifier] : []));
  }
}
