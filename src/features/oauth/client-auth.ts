import type { ClientRegistry } from '../oidc/oidc.ports.js';
import type { OAuthClient } from '../oidc/oidc.types.js';
import { InvalidClientError, OAuthError } from './oauth.errors.js';
import { MAX_PARAM_LENGTH, type TokenParams } from './token-params.js';

/** A client's claimed identity; the service that owns the client checks the secret. */
export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  /** HTTP Basic was used: a failure answers with a Basic challenge (RFC 6749 §5.2). */
  viaBasic: boolean;
}

export function basicChallenge(): Record<string, string> {
  return { 'www-authenticate': 'Basic realm="hyperion-auth"' };
}

/** RFC 6749 §2.3.1: HTTP Basic with form-urlencoded client id and secret, or the body. */
export function readClientCredentials(
  params: TokenParams,
  authorization: string | undefined,
): ClientCredentials {
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

/** A client's claimed identity where public clients (no secret: `none`) are allowed too. */
export interface ClientAuthentication {
  clientId: string;
  /** Absent for a public client (token_endpoint_auth_method `none`). */
  clientSecret: string | undefined;
  viaBasic: boolean;
}

/**
 * RFC 6749 §2.3 and OIDC's `none`: HTTP Basic, or client_id (with client_secret for a
 * confidential client) in the body. Undefined when the request names no client at all.
 */
export function readClientAuthentication(
  params: TokenParams,
  authorization: string | undefined,
): ClientAuthentication | undefined {
  const hasBasic = authorization !== undefined && /^Basic\s/i.test(authorization);
  if (hasBasic || params.has('client_secret')) {
    const { clientId, clientSecret, viaBasic } = readClientCredentials(params, authorization);
    return { clientId, clientSecret: clientSecret === '' ? undefined : clientSecret, viaBasic };
  }
  const clientId = params.get('client_id');
  if (!clientId) return undefined;
  if (clientId.length > MAX_PARAM_LENGTH)
    throw new OAuthError('invalid_request', 'Parameter client_id is too long');
  return { clientId, clientSecret: undefined, viaBasic: false };
}

function decodeBasic(encoded: string): ClientCredentials {
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

/**
 * Authenticates the OAuth client a token-endpoint request names (confidential by secret,
 * public by client_id alone) and checks it may use the grant. Failures are `invalid_client`
 * (with a Basic challenge when Basic was tried) and `unauthorized_client`.
 */
export async function authenticateClient(
  registry: Pick<ClientRegistry, 'authenticateClient'>,
  params: TokenParams,
  authorization: string | undefined,
  grantType?: string,
): Promise<OAuthClient> {
  const claimed = readClientAuthentication(params, authorization);
  if (!claimed)
    throw new OAuthError('invalid_client', 'Client authentication is required', basicChallenge());
  let client: OAuthClient;
  try {
    client = await registry.authenticateClient({
      clientId: claimed.clientId,
      clientSecret: claimed.clientSecret,
    });
  } catch (error) {
    if (error instanceof InvalidClientError)
      throw new OAuthError(
        'invalid_client',
        'Client authentication failed',
        claimed.viaBasic ? basicChallenge() : {},
      );
    throw error;
  }
  if (grantType !== undefined && !client.grant_types.includes(grantType))
    throw new OAuthError('unauthorized_client', `The client may not use the ${grantType} grant`);
  return client;
}
