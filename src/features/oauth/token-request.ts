import { AppError } from '../../errors.js';
import type { PreparedGrant } from './grants/grant.js';
import { findGrant } from './grants/index.js';
import { OAuthError } from './oauth.errors.js';
import { MAX_PARAM_LENGTH, readParams, requiredParam } from './token-params.js';

/**
 * Reads the request and hands it to the grant it names, which checks its own parameters;
 * throws OAuthError when either cannot. What comes back issues the tokens, with the services'
 * failures already in OAuth terms.
 */
export function parseTokenRequest(body: unknown, authorization: string | undefined): PreparedGrant {
  const params = readParams(body);
  const grantType = requiredParam(params, 'grant_type');
  // RFC 6749 lets every grant carry a scope, so an absurd one is refused whichever grant it
  // came with, before the grant type is even looked at.
  const scope = params.get('scope') || undefined;
  if (scope !== undefined && scope.length > MAX_PARAM_LENGTH)
    throw new OAuthError('invalid_request', 'Parameter scope is too long');
  const grant = findGrant(grantType);
  if (!grant) {
    throw new OAuthError(
      'unsupported_grant_type',
      `Grant type ${grantType.slice(0, 64)} is not supported`,
    );
  }
  const issue = grant.prepare(params, authorization);
  return (context) =>
    issue(context).catch((error: unknown) => {
      throw grantFromAppError(error);
    });
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
