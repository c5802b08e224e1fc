import type { FastifyReply } from 'fastify';
import type { Static, TSchema } from 'typebox';
import type { TokenResponseSchema } from '../../sessions/sessions.schemas.js';
import type { ClientContext } from '../../../lib/client.js';
import type { ServiceAccountsService } from '../../service-accounts/service-accounts.service.js';
import type { RefreshService } from '../../sessions/refresh.service.js';
import type { SignInService } from '../../sessions/signin.service.js';
import type { TokenParams } from '../token-params.js';
import type { CodeExchangeService } from '../../oidc/code-exchange.service.js';
import type { DeviceService } from '../../oidc/device.service.js';
import type { ClientRegistry } from '../../oidc/oidc.ports.js';
import type { TokenExchangeService } from '../../oidc/token-exchange.service.js';

/**
 * What the grants call. Only the methods they use, so the route plugin can be handed exactly
 * this (and a test a stand-in); a grant that needs another service adds it here.
 */
export interface GrantServices {
  signIn: Pick<SignInService, 'signIn'>;
  refresh: Pick<RefreshService, 'refresh'>;
  serviceAccounts: Pick<ServiceAccountsService, 'issueToken'>;
  /** OAuth clients of the OpenID Connect provider. */
  oauthClients: Pick<ClientRegistry, 'authenticateClient'>;
  codes: Pick<CodeExchangeService, 'exchange'>;
  tokenExchange: Pick<TokenExchangeService, 'exchange'>;
  /** RFC 8628: the device code grant's polls. */
  devices: Pick<DeviceService, 'poll'>;
}

export interface GrantContext {
  services: GrantServices;
  client: ClientContext;
  /** For the headers and statuses a grant answers with (no-store, a 403 for mfa_required). */
  reply: FastifyReply;
}

/** The OpenAPI 3.1 OAuth2 flows that fit a token-endpoint-only grant (no authorizationUrl). */
export type OpenApiFlow = 'password' | 'clientCredentials';

/** A token response body, or a reply the grant has already sent with another status. */
export type GrantAnswer = Static<typeof TokenResponseSchema> | FastifyReply;

/** One grant_type of the token endpoint: how its request is read and how it is answered. */
export interface GrantSpec<Type extends string, Parsed> {
  /** The grant_type value. */
  readonly type: Type;
  /** Its parameters as the OpenAPI description of the endpoint names them. */
  readonly describe: string;
  /**
   * The parameters it reads besides grant_type, for the OpenAPI request schema (each is
   * optional there: it depends on the grant). Reading them is parse's job, not the schema's.
   */
  readonly params: Readonly<Record<string, TSchema>>;
  /** The OAuth2 flow that Swagger UI's "Authorize" offers for this grant, if any. */
  readonly openApiFlow?: OpenApiFlow;
  /**
   * Reads and checks the parameters before any service is called. Throws OAuthError
   * (invalid_request, invalid_client), which is answered as it is.
   */
  parse(params: TokenParams, authorization: string | undefined): Parsed;
  /**
   * Runs the grant. An AppError it lets through is translated for OAuth clients by the
   * dispatcher (grantFromAppError); a failure only this grant can name, it translates itself.
   */
  issue(parsed: Parsed, context: GrantContext): Promise<GrantAnswer>;
}

/** A request that was parsed by a grant and can only be issued by that same grant. */
export type PreparedGrant = (context: GrantContext) => Promise<GrantAnswer>;

/** A grant as the registry holds it: its parsed type is hidden behind `prepare`. */
export interface Grant<Type extends string = string> extends Omit<
  GrantSpec<Type, unknown>,
  'parse' | 'issue'
> {
  prepare(params: TokenParams, authorization: string | undefined): PreparedGrant;
}

/**
 * Declares a grant. Binding parse to issue here means the dispatcher never holds a parsed
 * request apart from its grant, so no cast is needed to pair them back up.
 */
export function defineGrant<Type extends string, Parsed>(
  spec: GrantSpec<Type, Parsed>,
): Grant<Type> {
  const { parse, issue, ...rest } = spec;
  return {
    ...rest,
    prepare(params, authorization) {
      const parsed = parse(params, authorization);
      return (context) => issue(parsed, context);
    },
  };
}
