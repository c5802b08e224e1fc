import { OAuthError } from './oauth.errors.js';

/** The token request's parameters, one value each, whichever encoding they came in. */
export type TokenParams = ReadonlyMap<string, string>;

export const MAX_PARAM_LENGTH = 4096;

/** Reads form-encoded (a string) or JSON (an object) parameters; a repeated one is an error. */
export function readParams(body: unknown): TokenParams {
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

export function requiredParam(params: TokenParams, name: string): string {
  const value = params.get(name);
  if (!value) throw new OAuthError('invalid_request', `Parameter ${name} is required`);
  if (value.length > MAX_PARAM_LENGTH)
    throw new OAuthError('invalid_request', `Parameter ${name} is too long`);
  return value;
}
