/**
 * OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, which the
 * MCP authorization spec uses): a client names itself by an HTTPS URL, and the metadata an
 * RFC 7591 registration would have carried is read from that URL. Pure: the rules for the URL,
 * for the document, and for how long a fetched copy may be used. The service fetches and
 * stores (OAuthClientsService.findClient).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { OIDC_SCOPES } from '../oidc/oidc.types.js';
import { RegistrationError, checkRedirectUris } from './dynamic-registration.js';

/** The longest client_id URL accepted (the document's own limit is the server's to choose). */
export const MAX_CLIENT_ID_URL_LENGTH = 2000;
/**
 * The largest document read. The draft suggests 5 KB; real documents are a few hundred bytes,
 * and a cap keeps a hostile host from making us read and parse much.
 */
export const MAX_DOCUMENT_BYTES = 5 * 1024;
/** How long the fetch may take, connect to last byte: the person waits on it. */
export const FETCH_TIMEOUT_MS = 5_000;

/*
 * How long a fetched copy is used before it is fetched again: the document's HTTP caching
 * (Cache-Control max-age, no-store/no-cache, Expires), held between a floor and a ceiling.
 * - Floor, 60 s: one authorization looks the client up several times (authorize, sign-in,
 *   consent); even a document marked no-store is read once for all of them, so one flow sees
 *   one version of the client and a hostile host cannot make each step a fetch.
 * - Ceiling, 24 h: a client that withdraws a redirect URI (say, a compromised one) is heard
 *   within a day whatever its headers promised.
 * - Without any caching header, 10 minutes.
 */
export const MIN_CACHE_SECONDS = 60;
export const MAX_CACHE_SECONDS = 24 * 60 * 60;
export const DEFAULT_CACHE_SECONDS = 10 * 60;

/** Why a metadata document cannot stand for its client; the message is shown on the error page. */
export class ClientMetadataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientMetadataError';
  }
}

/** A client_id that names a metadata document (as opposed to an id we issued). */
export function isClientIdUrl(clientId: string): boolean {
  return clientId.startsWith('https://');
}

/**
 * Why the client_id URL may not be used, or undefined when it may (the draft's §3 rules).
 * Compared as strings, never normalised (the draft forbids it), so a URL must already be in
 * the form a URL parser writes it: that rules out dot segments, an upper-case host, a default
 * port and stray characters in one check, after the clearer specific ones.
 */
export function clientIdUrlProblem(clientId: string): string | undefined {
  if (clientId.length > MAX_CLIENT_ID_URL_LENGTH)
    return `is longer than ${MAX_CLIENT_ID_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:') return 'must use https';
  if (clientId.includes('#')) return 'must not contain a fragment';
  if (url.username !== '' || url.password !== '') return 'must not contain a user name or password';
  // The path as written: the parser has already removed the dot segments from url.pathname.
  const afterScheme = clientId.slice('https://'.length);
  const slash = afterScheme.search(/[/?]/);
  const rawPath = slash === -1 ? '' : (afterScheme.slice(slash).split('?')[0] ?? '');
  const segments = rawPath.split('/');
  if (segments.some((segment) => /^(\.|%2e){1,2}$/i.test(segment)))
    return 'must not contain . or .. path segments';
  if (url.pathname === '/' || url.pathname === '') return 'must have a path (not just a host)';
  if (url.href !== clientId) return `must be written in normalised form (${url.href})`;
  return undefined;
}

/** What a valid document becomes: the registry's terms. */
export interface CheckedDocument {
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  scopes: string[];
}

const GRANT_TYPES = ['authorization_code', 'refresh_token'];
// What a document that names no scope may ask for: what a dynamic registration gets.
const DEFAULT_SCOPES = ['openid', 'profile', 'email', 'offline_access'];
// Metadata that makes a client confidential: only public clients come from documents here.
const SECRET_FIELDS = ['client_secret', 'client_secret_expires_at', 'jwks', 'jwks_uri'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(document: Record<string, unknown>, field: string): string[] | undefined {
  const value = document[field];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string') || value.length > 20)
    throw new ClientMetadataError(`${field} must be a list of at most 20 strings`);
  return value as string[];
}

function optionalString(document: Record<string, unknown>, field: string): string | undefined {
  const value = document[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ClientMetadataError(`${field} must be a string`);
  return value;
}

/**
 * Checks a fetched document against its URL and our rules; throws ClientMetadataError. The
 * redirect URIs follow the rules of dynamic registration (anybody can publish a document, just
 * as anybody can register): https, or http on this machine's loopback.
 */
export function checkMetadataDocument(clientId: string, body: Buffer): CheckedDocument {
  let document: unknown;
  try {
    document = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ClientMetadataError('the document is not JSON');
  }
  if (!isObject(document)) throw new ClientMetadataError('the document is not a JSON object');
  // Exactly, as strings (the draft): the document speaks only for the URL it was read from.
  if (document['client_id'] !== clientId)
    throw new ClientMetadataError('the document names a different client_id than its own URL');
  const secret = SECRET_FIELDS.find((field) => document[field] !== undefined);
  if (secret !== undefined)
    throw new ClientMetadataError(`the document may not contain ${secret} (public clients only)`);
  const authMethod = optionalString(document, 'token_endpoint_auth_method') ?? 'none';
  if (authMethod !== 'none')
    throw new ClientMetadataError(
      `token_endpoint_auth_method ${authMethod} is not supported here: only none (a public client)`,
    );

  const redirectUris = stringList(document, 'redirect_uris') ?? [];
  if (redirectUris.length === 0)
    throw new ClientMetadataError('redirect_uris must name at least one URI');
  let checkedRedirects: string[];
  let checkedLogout: string[];
  try {
    checkedRedirects = checkRedirectUris('redirect_uris', redirectUris);
    checkedLogout = checkRedirectUris(
      'post_logout_redirect_uris',
      stringList(document, 'post_logout_redirect_uris') ?? [],
    );
  } catch (error) {
    if (error instanceof RegistrationError) throw new ClientMetadataError(error.description);
    throw error;
  }

  const grantTypes = stringList(document, 'grant_types') ?? ['authorization_code'];
  const unknownGrant = grantTypes.find((grant) => !GRANT_TYPES.includes(grant));
  if (unknownGrant !== undefined)
    throw new ClientMetadataError(
      `grant type ${unknownGrant} is not supported for these clients (only ${GRANT_TYPES.join(', ')})`,
    );
  if (!grantTypes.includes('authorization_code'))
    throw new ClientMetadataError('grant_types must include authorization_code');
  const responseTypes = stringList(document, 'response_types') ?? ['code'];
  if (responseTypes.some((type) => type !== 'code'))
    throw new ClientMetadataError('response_types may only be code');

  // One document serves many servers: scopes we do not offer are ignored, not refused.
  const asked = optionalString(document, 'scope')
    ?.split(' ')
    .filter((scope) => scope !== '');
  const known = Object.keys(OIDC_SCOPES);
  const scopes = known.filter((scope) => (asked ?? DEFAULT_SCOPES).includes(scope));

  const name = optionalString(document, 'client_name')?.trim().slice(0, 100);
  return {
    // The host of the document stands in for a name it does not give.
    name: name ? name : new URL(clientId).host,
    redirectUris: checkedRedirects,
    postLogoutRedirectUris: checkedLogout,
    grantTypes: GRANT_TYPES.filter((grant) => grantTypes.includes(grant)),
    scopes,
  };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Seconds the fetched copy may be used, from the answer's caching headers (see above). */
export function cacheSeconds(headers: IncomingHttpHeaders, now: Date): number {
  const clamp = (seconds: number) =>
    Math.min(MAX_CACHE_SECONDS, Math.max(MIN_CACHE_SECONDS, seconds));
  const directives = (header(headers, 'cache-control') ?? '')
    .toLowerCase()
    .split(',')
    .map((directive) => directive.trim());
  if (directives.includes('no-store') || directives.includes('no-cache')) return MIN_CACHE_SECONDS;
  const maxAge = directives
    .map((directive) => /^max-age=(\d+)$/.exec(directive)?.[1])
    .find((value) => value !== undefined);
  if (maxAge !== undefined) return clamp(Number(maxAge));
  const expires = header(headers, 'expires');
  if (expires !== undefined) {
    const at = Date.parse(expires);
    // An invalid date means "already expired" (RFC 9111 §5.3).
    return clamp(Number.isNaN(at) ? 0 : Math.floor((at - now.getTime()) / 1000));
  }
  return DEFAULT_CACHE_SECONDS;
}
