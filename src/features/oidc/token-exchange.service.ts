import type { Config } from '../../config/config.js';
import type { AccessTokens, ActorClaim, VerifiedAccessToken } from '../../crypto/access-tokens.js';
import { AppError } from '../../errors.js';
import type { ClientContext } from '../../lib/client.js';
import { type Clock, toEpochSeconds } from '../../lib/clock.js';
import type { AuditService } from '../audit/audit.service.js';
import type { MetricsRecorder } from '../ops/metrics.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import type { ResourceLookup } from './oidc.ports.js';
import { type OAuthClient, type ProtectedResource, resourceScopesFor } from './oidc.types.js';

export interface TokenExchangeServiceDeps {
  clock: Clock;
  tokens: Pick<AccessTokens, 'verify' | 'sign'>;
  sessions: Pick<SessionsService, 'assertSessionActive'>;
  resources: ResourceLookup;
  audit: Pick<AuditService, 'record'>;
  config: Pick<Config, 'accessTokenTtl'> & { jwt: Pick<Config['jwt'], 'audience'> };
  metrics?: Pick<MetricsRecorder, 'oauthTokenExchange'>;
}

export interface TokenExchangeRequest {
  /** Authenticated (confidential) and allowed the token-exchange grant. */
  client: OAuthClient;
  subjectToken: string;
  /** The registered protected API the new token is for (RFC 8707 identifier). */
  resource: string;
  /** The scopes asked for; undefined: every scope the exchange may give. */
  scopes: readonly string[] | undefined;
}

export interface ExchangedToken {
  accessToken: string;
  expiresIn: number;
  scope: string;
}

/** An exchange refused, with the RFC 6749 / RFC 8707 error it is answered with. */
export class TokenExchangeError extends Error {
  constructor(
    readonly code: 'invalid_grant' | 'invalid_target' | 'invalid_scope',
    message: string,
  ) {
    super(message);
  }
}

/**
 * RFC 8693 token exchange: a client holding a user's access token (the subject token) gets
 * a narrower one for one protected API, carrying `act: {sub: <client_id>}`.
 *
 * Never broader than the subject token:
 * - the subject token must be ours (signature, issuer, `typ`, unexpired) and for this
 *   service (JWT_AUDIENCE) or for the very API asked for: a token for another API holds
 *   that API's scopes, which mean nothing (or something else) to this one;
 * - it must be a user's token whose session is live (a service account's has no user);
 * - the scopes are those asked for (or, by default, all that qualify) that the subject token
 *   holds, the API defines and the client may have (`resourceScopesFor`). A first-party
 *   user token (this service's own sign-in: no `scope` and no `client_id` claim) is not
 *   narrowed by any scope: it already speaks for the person in everything, password change
 *   included, so any API scope the client may have is narrower than it. A client's token
 *   holds exactly its `scope`. An exchange that would give no scope is refused rather than
 *   answered with a token for nothing;
 * - the new token keeps the subject's session (`sid`): revoking it ends both. It lives no
 *   longer than the API's token lifetime nor past the subject token's expiry. No refresh
 *   token: the client exchanges again.
 */
export class TokenExchangeService {
  constructor(private readonly deps: TokenExchangeServiceDeps) {}

  async exchange(request: TokenExchangeRequest, context: ClientContext): Promise<ExchangedToken> {
    try {
      const exchanged = await this.#exchange(request, context);
      this.deps.metrics?.oauthTokenExchange(request.client.client_id, 'success');
      return exchanged;
    } catch (error) {
      if (error instanceof TokenExchangeError)
        this.deps.metrics?.oauthTokenExchange(request.client.client_id, error.code);
      throw error;
    }
  }

  async #exchange(request: TokenExchangeRequest, context: ClientContext): Promise<ExchangedToken> {
    const { tokens, clock, audit, config } = this.deps;
    const resource = await this.deps.resources.findResource(request.resource);
    if (!resource)
      throw new TokenExchangeError(
        'invalid_target',
        'The resource is not a registered protected API',
      );
    const subject = await this.#liveSubject(request.subjectToken, resource);
    const scopes = grantedScopes(request, subject, resource);
    const remaining = subject.exp - toEpochSeconds(clock.now());
    const expiresIn = Math.min(resource.accessTokenTtl ?? config.accessTokenTtl, remaining);
    if (expiresIn <= 0)
      throw new TokenExchangeError('invalid_grant', 'The subject token has expired');
    const clientId = request.client.client_id;
    // RFC 8693 §4.1: the current actor outermost, whoever acted before nested inside.
    const act: ActorClaim = subject.act ? { sub: clientId, act: subject.act } : { sub: clientId };
    const scope = scopes.join(' ');
    const accessToken = await tokens.sign(
      { sub: subject.sub, sid: subject.sid, client_id: clientId, scope, act },
      expiresIn,
      { audience: resource.identifier },
    );
    await audit.record({
      type: 'oauth.token_exchanged',
      userId: subject.sub,
      ...context,
      data: {
        client_id: clientId,
        resource: resource.identifier,
        scopes,
        session_id: subject.sid,
        // Whom the subject token was issued to, and who acted before: the chain of delegation.
        subject_client_id: subject.clientId ?? null,
        act,
      },
    });
    return { accessToken, expiresIn, scope };
  }

  /** The subject token, verified, a user's, and its session live. */
  async #liveSubject(
    raw: string,
    resource: ProtectedResource,
  ): Promise<VerifiedAccessToken & { sid: string }> {
    let subject: VerifiedAccessToken;
    try {
      subject = await this.deps.tokens.verify(raw, [
        this.deps.config.jwt.audience,
        resource.identifier,
      ]);
    } catch (error) {
      if (error instanceof AppError && error.code === 'token_expired')
        throw new TokenExchangeError('invalid_grant', 'The subject token has expired');
      if (error instanceof AppError && error.code === 'unauthorized')
        throw new TokenExchangeError(
          'invalid_grant',
          'The subject token is not valid (an access token of this issuer, for this service or for the resource asked for)',
        );
      throw error;
    }
    const { sid } = subject;
    if (sid === undefined)
      throw new TokenExchangeError(
        'invalid_grant',
        "The subject token is not a user's (a service account's token cannot be exchanged)",
      );
    try {
      await this.deps.sessions.assertSessionActive(sid, subject.sub);
    } catch (error) {
      if (error instanceof AppError && error.code === 'unauthorized')
        throw new TokenExchangeError('invalid_grant', "The subject token's session has ended");
      throw error;
    }
    return { ...subject, sid };
  }
}

/** requested ∩ the subject token's ∩ the resource's ∩ the client's; asking beyond is refused. */
function grantedScopes(
  request: TokenExchangeRequest,
  subject: VerifiedAccessToken,
  resource: ProtectedResource,
): string[] {
  const allowed = resourceScopesFor(request.client, resource);
  // The person's own sign-in is unscoped: everything the client may have is within it.
  const firstParty = subject.scope === undefined && subject.clientId === undefined;
  const held = firstParty
    ? new Set(resource.scopes.map((scope) => scope.name))
    : new Set(subject.scope?.split(' ').filter(Boolean) ?? []);
  if (request.scopes !== undefined) {
    const beyond = (test: (scope: string) => boolean) =>
      request.scopes?.filter((scope) => !test(scope)).join(' ') ?? '';
    const undefinedHere = beyond((scope) => resource.scopes.some((s) => s.name === scope));
    if (undefinedHere)
      throw new TokenExchangeError(
        'invalid_scope',
        `The resource defines no scope ${undefinedHere}`,
      );
    const notClients = beyond((scope) => allowed.has(scope));
    if (notClients)
      throw new TokenExchangeError('invalid_scope', `The client may not have ${notClients}`);
    const notHeld = beyond((scope) => held.has(scope));
    if (notHeld)
      throw new TokenExchangeError(
        'invalid_scope',
        `The subject token does not hold ${notHeld}; an exchange never widens it`,
      );
    if (request.scopes.length > 0) return [...request.scopes];
  }
  const scopes = [...held].filter((scope) => allowed.has(scope));
  if (scopes.length === 0)
    throw new TokenExchangeError(
      'invalid_scope',
      "The subject token holds none of the resource's scopes that the client may have",
    );
  return scopes;
}
