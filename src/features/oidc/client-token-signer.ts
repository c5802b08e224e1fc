import type { Config } from '../../config/config.js';
import type { AccessTokens } from '../../crypto/access-tokens.js';
import type { IdTokens } from '../../crypto/id-tokens.js';
import type { UserWithRoles } from '../accounts/accounts.types.js';
import type {
  ClientSessionGrant,
  ClientTokenSigner,
  ClientTokens,
} from '../sessions/sessions.types.js';
import type { SignInService } from '../sessions/signin.service.js';
import { AppError } from '../../errors.js';
import type { ResourceLookup } from './oidc.ports.js';

export interface OidcTokenSignerDeps {
  tokens: AccessTokens;
  idTokens: IdTokens;
  signIn: Pick<SignInService, 'rolesClaim'>;
  resources: ResourceLookup;
  config: Pick<Config, 'accessTokenTtl'>;
}

/**
 * Signs the tokens of an OAuth client's grant, at the code exchange and at every refresh: an
 * access token for the client (RFC 9068 `client_id`, `scope`; `aud` the requested resource or
 * JWT_AUDIENCE) and, when `openid` was granted, an ID token for it.
 */
export class OidcTokenSigner implements ClientTokenSigner {
  constructor(private readonly deps: OidcTokenSignerDeps) {}

  async sign(
    user: UserWithRoles,
    grant: ClientSessionGrant,
  ): Promise<{ accessToken: string; client: ClientTokens; expiresIn: number }> {
    const { tokens, idTokens, signIn, config } = this.deps;
    const scope = grant.scopes.join(' ');
    // A token bound to a protected API lives as long as that API says; one that is no longer
    // registered gets none (the grant reads as invalid).
    const resource = grant.resource
      ? await this.deps.resources.findResource(grant.resource)
      : undefined;
    if (grant.resource && !resource)
      throw new AppError('unauthorized', 'The protected API of this grant is no longer registered');
    const expiresIn = resource?.accessTokenTtl ?? config.accessTokenTtl;
    const accessToken = await tokens.sign(
      {
        sub: user.id,
        sid: grant.sessionId,
        client_id: grant.clientId,
        scope,
        roles: signIn.rolesClaim(user),
        // The e-mail address is released to a client only with the scope that names it.
        ...(grant.scopes.includes('email') ? { email: user.email } : {}),
      },
      expiresIn,
      resource ? { audience: resource.identifier } : {},
    );
    const client: ClientTokens = { clientId: grant.clientId, scope };
    if (grant.scopes.includes('openid')) {
      client.idToken = await idTokens.sign({
        sub: user.id,
        aud: grant.clientId,
        authTime: grant.authTime,
        nonce: grant.nonce,
        sid: grant.browserSessionId ?? grant.sessionId,
        amr: grant.amr,
        accessToken,
      });
    }
    return { accessToken, client, expiresIn };
  }
}
