import type { Config } from '../../config/config.js';
import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Trx } from '../../db/create-db.js';
import type { ClientContext } from '../../lib/client.js';
import { addSeconds } from '../../lib/clock.js';
import type { UserWithRoles } from '../accounts/accounts.types.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import { trimUserAgent, type ClientTokens } from '../sessions/sessions.types.js';
import type { OidcTokenSigner } from './client-token-signer.js';
import type { OAuthClient } from './oidc.types.js';

// What every user grant to an OAuth client ends with, whichever way the person approved it (an
// authorization code, a device code): the client session opened under the browser sign-in,
// a refresh token by the one rule, and the signed tokens.

/** The tokens a grant is redeemed for. */
export interface ClientGrant {
  accessToken: string;
  expiresIn: number;
  /** Only with `offline_access`, or for a first-party client, and if the client may refresh. */
  refreshToken: string | null;
  client: ClientTokens;
}

/** What the person approved, in which browser sign-in. */
export interface ApprovedGrant {
  userId: string;
  browserSessionId: string;
  scopes: string[];
  resource: string | null;
  authTime: Date;
  amr: string[];
}

/** Refresh tokens go to clients allowed them, with offline_access or when first-party. */
export function mayRefresh(client: OAuthClient, scopes: readonly string[]): boolean {
  if (!client.grant_types.includes('refresh_token')) return false;
  return scopes.includes('offline_access') || client.first_party;
}

/**
 * Opens the client session of an approved grant under its browser session, inside the
 * caller's transaction (which also spends what was redeemed), with a refresh token when the
 * client may have one.
 */
export async function openGrantSession(
  trx: Trx,
  deps: {
    sessions: Pick<SessionsService, 'openClientSession'>;
    config: Pick<Config, 'refreshTokenTtl' | 'sessionMaxLifetime'>;
  },
  grant: { client: OAuthClient; approved: ApprovedGrant; now: Date; context: ClientContext },
): Promise<{ sessionId: string; refreshToken: string | null }> {
  const { client, approved, now, context } = grant;
  const refreshToken = mayRefresh(client, approved.scopes) ? generateOpaqueToken() : null;
  const session = await deps.sessions.openClientSession(trx, {
    userId: approved.userId,
    clientId: client.client_id,
    parentId: approved.browserSessionId,
    scopes: approved.scopes,
    resource: approved.resource,
    authTime: approved.authTime,
    amr: approved.amr,
    now,
    expiresAt: addSeconds(now, deps.config.refreshTokenTtl),
    absoluteExpiresAt: addSeconds(now, deps.config.sessionMaxLifetime),
    userAgent: trimUserAgent(context.userAgent),
    ip: context.ip,
    refreshTokenHash: refreshToken === null ? null : hashOpaqueToken(refreshToken),
  });
  return { sessionId: session.id, refreshToken };
}

/** Signs the access token (and ID token, with openid) of a grant whose session is open. */
export async function signGrant(
  signer: Pick<OidcTokenSigner, 'sign'>,
  user: UserWithRoles,
  opened: { sessionId: string; refreshToken: string | null },
  grant: ApprovedGrant & { clientId: string; nonce: string | null },
): Promise<ClientGrant> {
  const { accessToken, client, expiresIn } = await signer.sign(user, {
    sessionId: opened.sessionId,
    clientId: grant.clientId,
    scopes: grant.scopes,
    resource: grant.resource,
    authTime: grant.authTime,
    amr: grant.amr,
    browserSessionId: grant.browserSessionId,
    nonce: grant.nonce,
  });
  return { accessToken, expiresIn, refreshToken: opened.refreshToken, client };
}
