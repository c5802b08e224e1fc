import { AppError } from '../../errors.js';
import { OAuthError } from './oauth.errors.js';

export type TokenRequest =
  | { grantType: 'password'; username: string; password: string; scope: string | undefined }
  | { grantType: 'refresh_token'; refreshToken: string; scope: string | undefined }
  | {
      grantType: 'client_credentials';
      clientId: string;
      clientSecret: string;
      /** HTTP Basic was used: a failure answers with a Basic challenge (RFC 6749 §5.2). */
      viaBasic: boolean;
      scope: string | undefined;
    };

const MAX_PARAM_LENGTH = 4096;

/** Reads form-encoded (a string) or JSON (an object) parameters; a repeated one is an error. */
function readParams(body: unknown): Map<string, string> {
  const params = new Map<string, string>();
  if (typeof body === 'string') {
    for (const [key, value] of new URLSearchParams(body)) {
      if (params.has(key)) throw new OAuthError('invalid_request', `Parameter ${key} is repeated`);
      params.set(key, value);
    }
    return params;
  }
  if (body === undefined || body === null) return params;
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new OAuthError(
      'invalid_request',
      'The body must be form-encoded parameters or a JSON object',
    );
  }
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === 'string') params.set(key, value);
    else if (typeof value === 'number' || typeof value === 'boolean')
      params.set(key, String(value));
    else if (value !== null && value !== undefined) {
      throw new OAuthError('invalid_request', `Parameter ${key} must be a string`);
    }
  }
  return params;
}

function required(params: Map<string, string>, name: string): string {
  const value = params.get(name);
  if (!value) throw new OAuthError('invalid_request', `Parameter ${name} is required`);
  if (value.length > MAX_PARAM_LENGTH)
    throw new OAuthError('invalid_request', `Parameter ${name} is too long`);
  return value;
}

/** RFC 6749 §2.3.1: HTTP Basic with form-urlencoded client id and secret, or the body. */
function readClientCredentials(params: Map<string, string>, authorization: string | undefined) {
  const basic = authorization ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization) : null;
  if (basic) {
    if (params.has('client_secret')) {
      throw new OAuthError('invalid_request', 'Use one client authentication method, not two');
    }
    const credentials = decodeBasic(basic[1]!);
    // A client_id in the body alongside Basic is tolerated (some libraries send both) only
    // when it names the same client.
    const bodyClientId = params.get('client_id');
    if (bodyClientId !== undefined && bodyClientId !== credentials.clientId)
      throw new OAuthError('invalid_request', 'client_id differs from the Basic credentials');
    return credentials;
  }
  const clientId = params.get('client_id');
  const clientSecret = params.get('client_secret');
  if (!clientId || !clientSecret) {
    throw new OAuthError('invalid_client', 'Client authentication is required', basicChallenge());
  }
  if (clientId.length > MAX_PARAM_LENGTH || clientSecret.length > MAX_PARAM_LENGTH)
    throw new OAuthError('invalid_request', 'Client credentials are too long');
  return { clientId, clientSecret, viaBasic: false };
}

function decodeBasic(encoded: string) {
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1)
    throw new OAuthError('invalid_client', 'Malformed Basic credentials', basicChallenge());
  try {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before joining with a colon.
    return {
      clientId: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      clientSecret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
      viaBasic: true,
    };
  } catch {
    throw new OAuthError('invalid_client', 'Malformed Basic credentials', basicChallenge());
  }
}

export function basicChallenge(): Record<string, string> {
  return { 'www-authenticate': 'Basic realm="hyperion-auth"' };
}

export function parseTokenRequest(body: unknown, authorization: string | undefined): TokenRequest {
  const params = readParams(body);
  const grantType = required(params, 'grant_type');
  const scope = params.get('scope') || undefined;
  if (scope !== undefined && scope.length > MAX_PARAM_LENGTH)
    throw new OAuthError('invalid_request', 'Parameter scope is too long');
  switch (grantType) {
    case 'password':
      return {
        grantType,
        username: required(params, 'username'),
        password: required(params, 'password'),
        scope,
      };
    case 'refresh_token':
      return { grantType, refreshToken: required(params, 'refresh_token'), scope };
    case 'client_credentials':
      return { grantType, ...readClientCredentials(params, authorization), scope };
    default:
      throw new OAuthError(
        'unsupported_grant_type',
        `Grant type ${grantType.slice(0, 64)} is not supported`,
      );
  }
}

/** Translates the services' failures into what an OAuth client expects. */
export function grantFromAppError(error: unknown): unknown {
  if (!(error instanceof AppError)) return error;
  switch (error.code) {
    case 'invalid_credentials':
      return new OAuthError('invalid_grant', 'The username or password is wrong');
    case 'account_disabled':
      return new OAuthError('invalid_grant', 'The account is disabled');
    case 'email_not_verified':
      return new OAuthError('invalid_grant', 'The e-mail address is not verified');
    case 'unauthorized':
      return new OAuthError('invalid_grant', error.detail ?? 'The grant is not valid');
    case 'service_unavailable':
      return new OAuthError('temporarily_unavailable', 'Try again shortly');
    default:
      return error;
  }
}
