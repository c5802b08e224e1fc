import { AppError } from '../../errors.js';
import { type ClientCredentials, readClientCredentials } from './client-auth.js';
import { OAuthError } from './oauth.errors.js';
import { MAX_PARAM_LENGTH, readParams, requiredParam } from './token-params.js';

export type TokenRequest =
  | { grantType: 'password'; username: string; password: string; scope: string | undefined }
  | { grantType: 'refresh_token'; refreshToken: string; scope: string | undefined }
  | ({ grantType: 'client_credentials'; scope: string | undefined } & ClientCredentials);

export function parseTokenRequest(body: unknown, authorization: string | undefined): TokenRequest {
  const params = readParams(body);
  const grantType = requiredParam(params, 'grant_type');
  const scope = params.get('scope') || undefined;
  if (scope !== undefined && scope.length > MAX_PARAM_LENGTH)
    throw new OAuthError('invalid_request', 'Parameter scope is too long');
  switch (grantType) {
    case 'password':
      return {
        grantType,
        username: requiredParam(params, 'username'),
        password: requiredParam(params, 'password'),
        scope,
      };
    case 'refresh_token':
      return { grantType, refreshToken: requiredParam(params, 'refresh_token'), scope };
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
