import { authorizationCodeGrant } from './authorization-code.grant.js';
import { clientCredentialsGrant } from './client-credentials.grant.js';
import { deviceCodeGrant } from './device-code.grant.js';
import type { Grant } from './grant.js';
import { passwordGrant } from './password.grant.js';
import { refreshTokenGrant } from './refresh-token.grant.js';
import { tokenExchangeGrant } from './token-exchange.grant.js';

/**
 * Every grant the token endpoint accepts, in the order the documents list them. The parser,
 * the dispatcher, the route's OpenAPI schema, Swagger UI's flows and the discovery document's
 * grant_types_supported are all read from here: a grant not in this list does not exist, and
 * one in it is advertised everywhere (grants.test.ts checks both).
 */
export const GRANTS = [
  authorizationCodeGrant,
  passwordGrant,
  refreshTokenGrant,
  clientCredentialsGrant,
  tokenExchangeGrant,
  deviceCodeGrant,
] as const satisfies readonly Grant[];

export type GrantType = (typeof GRANTS)[number]['type'];

export const GRANT_TYPES: readonly GrantType[] = GRANTS.map((grant) => grant.type);

export function findGrant(type: string): Grant<GrantType> | undefined {
  return GRANTS.find((grant) => grant.type === type);
}
