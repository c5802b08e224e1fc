import type { IdTokenHint } from '../../crypto/id-tokens.js';
import type { ClientLookup, ResourceLookup } from './oidc.ports.js';
import {
  type AuthorizationParams,
  type OAuthClient,
  type ProtectedResource,
  isOidcScope,
  resourceScopesFor,
} from './oidc.types.js';

/** Every value of every parameter, as sent (a query string or a form body). */
export type RawParams = ReadonlyMap<string, readonly string[]>;

export function readRawParams(text: string): RawParams {
  const params = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(text))
    params.set(key, [...(params.get(key) ?? []), value]);
  return params;
}

/** An error the client hears about at its redirect URI (RFC 6749 §4.1.2.1). */
export interface RedirectError {
  /** The registered client it goes back to. */
  clientId: string;
  redirectUri: string;
  error: string;
  description: string;
  state: string | null;
}

export type ParsedAuthorizeRequest =
  | { kind: 'valid'; client: OAuthClient; params: AuthorizationParams }
  /** Unknown client or redirect URI: told to the person only, never redirected (RFC 6749 §4.1.2.1). */
  | { kind: 'page'; message: string }
  | { kind: 'redirect'; error: RedirectError };

// The parameters this endpoint reads; each may be sent once (RFC 6749 §3.1). Others are ignored.
const KNOWN = [
  'client_id',
  'redirect_uri',
  'response_type',
  'response_mode',
  'scope',
  'state',
  'nonce',
  'prompt',
  'max_age',
  'login_hint',
  'id_token_hint',
  'code_challenge',
  'code_challenge_method',
  'resource',
  'request',
  'request_uri',
  'display',
  'ui_locales',
  'acr_values',
  'claims_locales',
];
const MAX_LENGTH = 4096;
/** Standard OpenID scopes (OIDC Core §5.4) this provider has no claims for. */
const UNSERVED_OIDC_SCOPES = new Set(['address']);
const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);
// RFC 7636 §4.2: BASE64URL(SHA-256(verifier)) is 43 characters; the grammar allows 43–128.
const CODE_CHALLENGE = /^[A-Za-z0-9._~-]{43,128}$/;

class Refusal {
  constructor(
    readonly error: string,
    readonly description: string,
  ) {}
}

function refuse(error: string, description: string): never {
  throw new Refusal(error, description);
}

/**
 * Reads and checks an authorization request. The client and its redirect URI come first: until
 * both are known good nothing may be sent to that URI, since an open redirector would hand an
 * attacker the person's browser. Every later problem is reported to the client by redirect.
 */
export async function parseAuthorizeRequest(
  raw: RawParams,
  clients: ClientLookup,
  resources: ResourceLookup,
  readHint: (token: string) => Promise<IdTokenHint | undefined>,
): Promise<ParsedAuthorizeRequest> {
  const only = (name: string) => {
    const values = raw.get(name);
    return values?.length === 1 ? values[0] : undefined;
  };
  const clientId = only('client_id');
  // Long enough for a metadata document's URL (the registry checks its own limit).
  const resolved =
    clientId && clientId.length <= MAX_LENGTH
      ? await clients.resolveClient(clientId)
      : { kind: 'unknown' as const };
  // Never a redirect: without a usable client there is no redirect URI to trust.
  if (resolved.kind === 'refused')
    return {
      kind: 'page',
      message: `The application that sent you here could not be identified (invalid_client): ${resolved.reason}.`,
    };
  if (resolved.kind === 'unknown')
    return { kind: 'page', message: 'The application that sent you here is not known.' };
  const client = resolved.client;
  const redirectUri = only('redirect_uri');
  // Exact string comparison (OAuth 2.1 §4.1.1.3): no prefix, no normalisation.
  if (!redirectUri || !client.redirect_uris.includes(redirectUri))
    return {
      kind: 'page',
      message: `The address ${client.name} asked to send you back to is not registered for it.`,
    };
  const stateValue = only('state');
  const state = stateValue !== undefined && stateValue.length <= MAX_LENGTH ? stateValue : null;
  try {
    const params = await checkParams(raw, client, redirectUri, state, readHint, resources);
    return { kind: 'valid', client, params };
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    const { error: code, description } = error;
    return {
      kind: 'redirect',
      error: { clientId: client.client_id, redirectUri, error: code, description, state },
    };
  }
}

async function checkParams(
  raw: RawParams,
  client: OAuthClient,
  redirectUri: string,
  state: string | null,
  readHint: (token: string) => Promise<IdTokenHint | undefined>,
  resources: ResourceLookup,
): Promise<AuthorizationParams> {
  for (const name of KNOWN) {
    const values = raw.get(name) ?? [];
    if (values.length > 1) refuse('invalid_request', `Parameter ${name} is repeated`);
    if ((values[0]?.length ?? 0) > MAX_LENGTH)
      refuse('invalid_request', `Parameter ${name} is too long`);
  }
  const get = (name: string) => {
    const value = raw.get(name)?.[0];
    return value === undefined || value === '' ? undefined : value;
  };
  if (get('request') !== undefined)
    refuse('request_not_supported', 'Request objects are not supported');
  if (get('request_uri') !== undefined)
    refuse('request_uri_not_supported', 'request_uri is not supported');
  const responseType = get('response_type');
  if (responseType === undefined) refuse('invalid_request', 'response_type is required');
  if (responseType !== 'code')
    refuse('unsupported_response_type', 'Only response_type=code is supported');
  const responseMode = get('response_mode');
  if (responseMode !== undefined && responseMode !== 'query')
    refuse('invalid_request', 'Only response_mode=query is supported');
  if (!client.grant_types.includes('authorization_code'))
    refuse('unauthorized_client', 'The client may not use the authorization code grant');
  const challenge = get('code_challenge');
  // PKCE for every client (OAuth 2.1): without it a stolen code could be redeemed.
  if (challenge === undefined) refuse('invalid_request', 'code_challenge (PKCE) is required');
  // A missing method means `plain`, which protects nothing once the challenge leaks.
  if (get('code_challenge_method') !== 'S256')
    refuse('invalid_request', 'code_challenge_method must be S256');
  if (!CODE_CHALLENGE.test(challenge ?? ''))
    refuse('invalid_request', 'code_challenge is not a valid S256 challenge');
  const checked = await checkScopeAndResource(client, get('scope'), get('resource'), resources);
  if ('error' in checked) refuse(checked.error, checked.description);
  const { scopes, resource } = checked;
  const prompt = [...new Set((get('prompt') ?? '').split(' ').filter(Boolean))];
  if (prompt.some((value) => !PROMPTS.has(value)))
    refuse('invalid_request', 'prompt may only be none, login, consent or select_account');
  if (prompt.includes('none') && prompt.length > 1)
    refuse('invalid_request', 'prompt=none cannot be combined with other values');
  const maxAge = get('max_age');
  if (maxAge !== undefined && !/^\d{1,9}$/.test(maxAge))
    refuse('invalid_request', 'max_age must be a number of seconds');
  const hint = get('id_token_hint');
  const hinted = hint === undefined ? undefined : await readHint(hint);
  if (hint !== undefined && !hinted)
    refuse('invalid_request', 'id_token_hint is not an ID token this provider issued');
  return {
    client_id: client.client_id,
    redirect_uri: redirectUri,
    scopes,
    state,
    nonce: get('nonce') ?? null,
    code_challenge: challenge ?? '',
    prompt: prompt.map((value) => (value === 'select_account' ? 'login' : value)),
    max_age: maxAge === undefined ? null : Number(maxAge),
    login_hint: get('login_hint') ?? null,
    id_token_hint_sub: hinted?.sub ?? null,
    resource: resource?.identifier ?? null,
  };
}

/** The scopes and the protected API a request may have, or the OAuth error refusing them. */
export type CheckedScopes =
  | { scopes: string[]; resource: ProtectedResource | undefined }
  | { error: 'invalid_scope' | 'invalid_target'; description: string };

/**
 * The requested scopes and RFC 8707 resource, checked alike wherever a user grant is asked
 * for (/oauth/authorize, /oauth/device_authorization): at least one scope, each an OpenID
 * scope the client may have or one the named protected API defines.
 */
export async function checkScopeAndResource(
  client: OAuthClient,
  scope: string | undefined,
  resourceId: string | undefined,
  resources: ResourceLookup,
): Promise<CheckedScopes> {
  // OIDC Core §5.4 scopes whose claims we hold nothing for (address) are ignored, not refused
  // (§3.1.2.1: scope values not understood SHOULD be ignored); the token response's `scope`
  // tells the client what was granted. Any other unknown scope is still invalid_scope.
  const scopes = [...new Set((scope ?? '').split(' ').filter(Boolean))].filter(
    (name) => !UNSERVED_OIDC_SCOPES.has(name),
  );
  if (scopes.length === 0) return { error: 'invalid_scope', description: 'A scope is required' };
  // RFC 8707: a token for one registered protected API, with only scopes it defines.
  const resource = resourceId === undefined ? undefined : await resources.findResource(resourceId);
  if (resourceId !== undefined && !resource)
    return {
      error: 'invalid_target',
      description: 'The resource is not a registered protected API',
    };
  // Only the resource's scopes this client may have (resourceScopesFor: its registry entry).
  const resourceScopes = resource ? resourceScopesFor(client, resource) : new Set<string>();
  const unknown = scopes.filter(
    (name) => !(isOidcScope(name) && client.scopes.includes(name)) && !resourceScopes.has(name),
  );
  if (unknown.length > 0)
    return { error: 'invalid_scope', description: `Scope not allowed: ${unknown.join(' ')}` };
  return { scopes, resource };
}

/** The redirect URI with the response's parameters added to whatever query it has. */
export function clientRedirect(
  redirectUri: string,
  params: Readonly<Record<string, string | null>>,
): string {
  const url = new URL(redirectUri);
  for (const [key, value] of Object.entries(params))
    if (value !== null) url.searchParams.append(key, value);
  return url.toString();
}
