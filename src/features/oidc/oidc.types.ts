/** An OAuth client as the registry hands it to the rest of the provider (never its secret). */
export interface OAuthClient {
  client_id: string;
  name: string;
  type: 'confidential' | 'public';
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  scopes: string[];
  /** Trusted by the operator: consent is not asked, refresh tokens come without offline_access. */
  first_party: boolean;
  created_at: Date;
  secret_rotated_at: Date | null;
  /**
   * How it came to be: by an admin, by RFC 7591 dynamic registration, or from the metadata
   * document its client_id (an HTTPS URL) names; the last two never first-party, and their
   * names are the client's own claim, unverified.
   */
  registration: 'admin' | 'dynamic' | 'metadata_document';
}

/** RFC 8628: a device polls with its device code while the person approves at /device. */
export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

/** RFC 8693's grant type: a user's access token exchanged for a narrower one. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/**
 * The grant types a registered client may be allowed. Token exchange only by an admin: dynamic
 * registration never offers it (dynamic-registration.ts keeps its own shorter list).
 */
export const CLIENT_GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  DEVICE_CODE_GRANT_TYPE,
  TOKEN_EXCHANGE_GRANT,
] as const;

/**
 * The scopes of the OpenID Connect provider, with the words the consent page shows for them.
 * `openid` asks for an ID token; the others release user-info claims, or (offline_access) a
 * refresh token.
 */
export const OIDC_SCOPES = {
  openid: 'Confirm who you are (your account id)',
  profile: 'Your name, picture, language and time zone',
  email: 'Your e-mail address and whether it is verified',
  phone: 'Your phone number',
  offline_access: 'Keep access while you are away (a refresh token)',
} as const;

export type OidcScope = keyof typeof OIDC_SCOPES;

export function isOidcScope(scope: string): scope is OidcScope {
  return Object.hasOwn(OIDC_SCOPES, scope);
}

/** The user-info claims each scope releases (OIDC Core §5.4). */
export const SCOPE_CLAIMS: Readonly<Record<string, readonly string[]>> = {
  openid: ['sub'],
  profile: ['name', 'picture', 'locale', 'zoneinfo', 'updated_at'],
  email: ['email', 'email_verified'],
  phone: ['phone_number'],
};

/**
 * An /oauth/authorize request after validation, as it is stored while the person signs in or
 * consents, and as the code is issued from.
 */
export interface AuthorizationParams {
  client_id: string;
  redirect_uri: string;
  /** Requested scopes the client may have, in request order, without duplicates. */
  scopes: string[];
  state: string | null;
  nonce: string | null;
  code_challenge: string;
  /** `none`, `login`, `consent` (`select_account` is read as `login`). */
  prompt: string[];
  max_age: number | null;
  login_hint: string | null;
  /** The subject of a valid `id_token_hint`. */
  id_token_hint_sub: string | null;
  resource: string | null;
}

/** An authorization code as the token endpoint redeems it. */
export interface IssuedCode {
  clientId: string;
  userId: string;
  browserSessionId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string | null;
  scopes: string[];
  resource: string | null;
  authTime: Date;
  amr: string[];
}

/**
 * The scopes of a protected API a client may be given, at /oauth/authorize and at a token
 * exchange. A client's registry `scopes` may name resource scopes besides the OpenID ones:
 * when it names any, the client may have only those; a client that names none (the default,
 * and every dynamically registered client) may ask for every scope the resource defines, and
 * the person's consent is what limits it.
 */
export function resourceScopesFor(client: OAuthClient, resource: ProtectedResource): Set<string> {
  const listed = client.scopes.filter((scope) => !isOidcScope(scope));
  const defined = resource.scopes.map((scope) => scope.name);
  return new Set(listed.length === 0 ? defined : defined.filter((scope) => listed.includes(scope)));
}

/** A protected API (RFC 8707 resource) as the provider binds tokens to it. */
export interface ProtectedResource {
  /** Absolute URI: the `aud` of tokens bound to it. */
  identifier: string;
  name: string;
  scopes: { name: string; description: string }[];
  /** Seconds; null: ACCESS_TOKEN_TTL. */
  accessTokenTtl: number | null;
}
