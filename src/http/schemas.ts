import { Type } from 'typebox';
import { type ErrorCode, codesByStatus } from '../errors.js';

// The feature-free shapes (ids, timestamps, e-mail, pages) are in lib/schemas.ts; a feature's
// own shapes (the user view, the token response) are in its x.schemas.ts.

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    request_id: Type.String(),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() })),
    ),
  },
  { description: 'RFC 9457 problem details (application/problem+json)' },
);

/**
 * The error responses a route documents, by code. Problems are sent by the error
 * handler as pre-rendered JSON, so these schemas only describe them in OpenAPI.
 */
export function problemResponses(...codes: ErrorCode[]): Record<number, typeof ProblemSchema> {
  const responses: Record<number, typeof ProblemSchema> = {};
  for (const [status, statusCodes] of codesByStatus(codes)) {
    responses[status] = Type.Object(ProblemSchema.properties, {
      description: `Problem: ${statusCodes.join(', ')}`,
    });
  }
  return responses;
}
