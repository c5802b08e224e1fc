/**
 * RFC 7591 dynamic client registration: the metadata a client may send, the rules it must
 * meet under each OAUTH_DYNAMIC_REGISTRATION policy, and the answer it gets. Pure: the
 * service stores what `checkRegistration` returns.
 */
import { Type, type Static } from 'typebox';
import { DEVICE_CODE_GRANT_TYPE, OIDC_SCOPES } from '../oidc/oidc.types.js';
import { redirectUriProblem } from './redirect-uris.js';

/** Who may register what (OAUTH_DYNAMIC_REGISTRATION, when not `off`). */
export type RegistrationPolicy = 'public' | 'open';

/** The RFC 7591 §3.2.2 error codes this endpoint answers with. */
export type RegistrationErrorCode = 'invalid_redirect_uri' | 'invalid_client_metadata';

/** A refused registration, answered as RFC 7591 §3.2.2 `{error, error_description}` with 400. */
export class RegistrationError extends Error {
  constructor(
    readonly code: RegistrationErrorCode,
    readonly description: string,
  ) {
    super(description);
    this.name = 'RegistrationError';
  }
}

const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const;
type AuthMethod = (typeof AUTH_METHODS)[number];
// The device code grant too: an agent that registers itself may sign a person in from a
// terminal; authorization_code stays required (below), as the redirect URIs are.
const GRANT_TYPES = ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT_TYPE] as const;
// What a client that names no scope may ask for: what an admin's client gets by default.
const DYNAMIC_DEFAULT_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

const Uris = (description: string) =>
  Type.Array(Type.String({ maxLength: 2000 }), { maxItems: 20, description });

// Values are typed loosely (strings, not enums) so that a value we do not support reaches
// checkRegistration and is refused with an RFC 7591 error naming it, not a schema message.
export const RegistrationRequestSchema = Type.Object(
  {
    redirect_uris: Uris('Exact redirect URIs: https, or http on localhost, 127.0.0.1 or [::1]'),
    client_name: Type.Optional(Type.String({ maxLength: 100 })),
    token_endpoint_auth_method: Type.Optional(
      Type.String({
        description:
          'none (a public client, the default under the `public` policy), client_secret_basic ' +
          '(the default under `open`) or client_secret_post',
      }),
    ),
    grant_types: Type.Optional(
      Type.Array(Type.String(), {
        maxItems: 10,
        description: `authorization_code (the default), refresh_token and ${DEVICE_CODE_GRANT_TYPE}`,
      }),
    ),
    response_types: Type.Optional(
      Type.Array(Type.String(), { maxItems: 10, description: 'Only code' }),
    ),
    scope: Type.Optional(
      Type.String({
        maxLength: 1000,
        description:
          'Space-separated scopes the client may ask for: OpenID ones of scopes_supported, ' +
          'and scopes of registered protected APIs (granted per resource, not stored)',
      }),
    ),
    application_type: Type.Optional(Type.String({ description: 'web (the default) or native' })),
    post_logout_redirect_uris: Type.Optional(Uris('Where /oauth/logout may send the browser')),
  },
  { additionalProperties: false },
);
export type RegistrationRequest = Static<typeof RegistrationRequestSchema>;

export const RegistrationResponseSchema = Type.Object({
  client_id: Type.String(),
  client_secret: Type.Optional(
    Type.String({ description: 'Confidential clients only; shown only in this answer' }),
  ),
  client_id_issued_at: Type.Integer({ description: 'Seconds since the epoch' }),
  client_secret_expires_at: Type.Optional(
    Type.Integer({ description: 'Confidential clients: 0, the secret does not expire' }),
  ),
  client_name: Type.String(),
  redirect_uris: Type.Array(Type.String()),
  post_logout_redirect_uris: Type.Array(Type.String()),
  token_endpoint_auth_method: Type.String(),
  grant_types: Type.Array(Type.String()),
  response_types: Type.Array(Type.String()),
  scope: Type.String(),
  application_type: Type.String(),
});
export type RegistrationResponse = Static<typeof RegistrationResponseSchema>;

/** What a valid registration becomes: the registry's terms, and what is echoed back. */
export interface CheckedRegistration {
  name: string;
  type: 'confidential' | 'public';
  authMethod: AuthMethod;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  /** The OpenID scopes it may ask for (stored). */
  scopes: string[];
  /** Scopes of protected APIs it named (echoed in the answer, not stored). */
  resourceScopes: string[];
  applicationType: 'web' | 'native';
}

function isOneOf<T extends string>(choices: readonly T[], value: string): value is T {
  return (choices as readonly string[]).includes(value);
}

/**
 * Stricter than an admin's registration (redirect-uris.ts): anybody may register, so only
 * URIs whose owner is certain qualify — an https host, or this machine's loopback (RFC 8252
 * §7.3) — never a private-use scheme, which any app on a device may claim.
 */
export function checkRedirectUris(field: string, uris: readonly string[]): string[] {
  for (const uri of uris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new RegistrationError('invalid_redirect_uri', `${field}: ${uri} ${problem}`);
    if (!/^https?:/i.test(uri))
      throw new RegistrationError(
        'invalid_redirect_uri',
        `${field}: ${uri} must use https, or http on localhost, 127.0.0.1 or [::1]`,
      );
  }
  return [...new Set(uris)];
}

/** A name for the admin list and the consent page when the client gives none: its host. */
function defaultName(redirectUri: string): string {
  return new URL(redirectUri).host;
}

/** Applies the policy and RFC 7591's rules and defaults; throws RegistrationError. */
export function checkRegistration(
  request: RegistrationRequest,
  policy: RegistrationPolicy,
  /** Every scope a registered protected API defines. */
  resourceScopes: ReadonlySet<string>,
): CheckedRegistration {
  if (request.redirect_uris.length === 0)
    throw new RegistrationError('invalid_redirect_uri', 'redirect_uris must name at least one URI');
  const redirectUris = checkRedirectUris('redirect_uris', request.redirect_uris);
  const postLogoutRedirectUris = checkRedirectUris(
    'post_logout_redirect_uris',
    request.post_logout_redirect_uris ?? [],
  );

  // RFC 7591's default is client_secret_basic; under `public` the server substitutes `none`
  // (§2 lets it replace a value), since a public client is all that policy can register.
  const authMethod =
    request.token_endpoint_auth_method ?? (policy === 'public' ? 'none' : 'client_secret_basic');
  if (!isOneOf(AUTH_METHODS, authMethod))
    throw new RegistrationError(
      'invalid_client_metadata',
      `token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`,
    );
  if (policy === 'public' && authMethod !== 'none')
    throw new RegistrationError(
      'invalid_client_metadata',
      'Only public clients (token_endpoint_auth_method none) may register here',
    );

  const responseTypes = request.response_types ?? ['code'];
  if (responseTypes.length === 0 || responseTypes.some((type) => type !== 'code'))
    throw new RegistrationError('invalid_client_metadata', 'response_types may only be code');

  const grantTypes = request.grant_types ?? ['authorization_code'];
  const unknownGrant = grantTypes.find((grant) => !isOneOf(GRANT_TYPES, grant));
  if (unknownGrant !== undefined)
    throw new RegistrationError(
      'invalid_client_metadata',
      `grant type ${unknownGrant} may not be registered (only ${GRANT_TYPES.join(', ')})`,
    );
  // The code response type is the only way in; a client without its grant could do nothing.
  if (!grantTypes.includes('authorization_code'))
    throw new RegistrationError(
      'invalid_client_metadata',
      'grant_types must include authorization_code',
    );

  // MCP clients register with the scopes the MCP server's challenge named (the SDKs' scope
  // selection), which are a protected API's, not OpenID's. Those are granted per resource at
  // /oauth/authorize to any client, so they are accepted and echoed, never stored. A list
  // naming no OpenID scope says nothing about them: the client gets the defaults.
  const known = Object.keys(OIDC_SCOPES);
  const asked = request.scope?.split(' ').filter((scope) => scope !== '');
  const unknownScope = asked?.find((scope) => !known.includes(scope) && !resourceScopes.has(scope));
  if (unknownScope !== undefined)
    throw new RegistrationError('invalid_client_metadata', `scope ${unknownScope} is not offered`);
  const askedOidc = asked?.filter((scope) => known.includes(scope));

  const applicationType = request.application_type ?? 'web';
  if (applicationType !== 'web' && applicationType !== 'native')
    throw new RegistrationError(
      'invalid_client_metadata',
      'application_type must be web or native',
    );

  const name = request.client_name?.trim();
  return {
    name: name ? name : defaultName(redirectUris[0] ?? ''),
    type: authMethod === 'none' ? 'public' : 'confidential',
    authMethod,
    redirectUris,
    postLogoutRedirectUris,
    grantTypes: GRANT_TYPES.filter((grant) => grantTypes.includes(grant)),
    scopes: known.filter((scope) =>
      (askedOidc?.length ? askedOidc : DYNAMIC_DEFAULT_SCOPES).includes(scope),
    ),
    resourceScopes: [...new Set(asked?.filter((scope) => resourceScopes.has(scope)))],
    applicationType,
  };
}
