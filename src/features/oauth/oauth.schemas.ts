import { type TSchema, Type } from 'typebox';
import type { OpenApiFlow } from './grants/grant.js';
import { GRANTS, GRANT_TYPES } from './grants/index.js';

// Everything the OpenAPI document says about the token request is read from the registry,
// so a new grant is documented by adding it there.

function grantParams(): Record<string, TSchema> {
  const params: Record<string, TSchema> = {};
  for (const grant of GRANTS)
    for (const [name, schema] of Object.entries(grant.params))
      params[name] ??= Type.Optional(schema);
  return params;
}

/** Describes the request in OpenAPI; the handler parses it itself (see attachValidation). */
export const TokenRequestSchema = Type.Object(
  { grant_type: Type.String({ enum: [...GRANT_TYPES] }), ...grantParams() },
  { additionalProperties: true },
);

/** "a (x), b (y) or c (z)": each grant type with the parameters it reads. */
function listGrants(): string {
  const named = GRANTS.map((grant) => `${grant.type} (${grant.describe})`);
  const last = named.pop();
  return named.length > 0 ? `${named.join(', ')} or ${last}` : (last ?? '');
}

export const TOKEN_REQUEST_DESCRIPTION = [
  `grant_type=${listGrants()}.`,
  'Form-encoded or JSON.',
  'Errors are {error, error_description}.',
].join(' ');

type OAuthFlow = { tokenUrl: string; scopes: Record<string, string> };

/** The OpenAPI oauth2 flows Swagger UI's "Authorize" offers: one per grant that names one. */
export function oauth2Flows(tokenUrl: string): Partial<Record<OpenApiFlow, OAuthFlow>> {
  const flows: Partial<Record<OpenApiFlow, OAuthFlow>> = {};
  for (const grant of GRANTS)
    if (grant.openApiFlow) flows[grant.openApiFlow] = { tokenUrl, scopes: {} };
  return flows;
}
