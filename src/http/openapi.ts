import type { SwaggerTransform } from '@fastify/swagger';
import { codesByStatus } from '../errors.js';
import { PROBLEM_CONTENT_TYPE } from './problem.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route's own error handler answers every failure in the format its response schemas
     * document (the OAuth token endpoint's `{error, error_description}`), so the OpenAPI
     * document does not add the shared problem responses to it.
     */
    ownErrors?: true;
  }
}

/**
 * The parts of an OpenAPI 3.1 document this module reads and writes. Schemas are JSON
 * Schema 2020-12 values, walked generically.
 */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}
export interface MediaTypeObject {
  schema?: JsonObject;
  [key: string]: JsonValue | undefined;
}
export interface ResponseObject {
  description: string;
  headers?: Record<string, JsonObject>;
  content?: Record<string, MediaTypeObject>;
}
export interface OperationObject {
  security?: Record<string, string[]>[];
  requestBody?: { required?: boolean; content: Record<string, MediaTypeObject> };
  responses: Record<string, ResponseObject>;
  [key: string]: unknown;
}
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, OperationObject>>;
  components: { schemas?: Record<string, JsonObject>; [key: string]: unknown };
  [key: string]: unknown;
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** What the shared hooks do to a route, read from its config when the document is built. */
interface RouteTraits {
  authenticated: boolean;
  authorized: boolean;
  rateLimited: boolean;
  ownErrors: boolean;
}

/** `/api/admin/users/:id` as OpenAPI writes it: `/api/admin/users/{id}`. */
export function openApiPath(url: string): string {
  return url.replace(/:(\w+)/g, '{$1}');
}

export function problemSchemaName(status: number | string): string {
  return `Problem${status}`;
}

/** A reference to the problem schema of a status, noting that the document uses it. */
function problemRef(status: number | string, used: Set<number>): JsonObject {
  used.add(Number(status));
  return { $ref: `#/components/schemas/${problemSchemaName(status)}` };
}

/**
 * One problem schema per status, its `code` narrowed to the catalog's codes of that status:
 * a generated client gets a precise type, and the conformance test checks the pairing.
 */
function problemSchemas(used: Set<number>): Record<string, JsonObject> {
  const schemas: Record<string, JsonObject> = {};
  for (const [status, codes] of codesByStatus()) {
    if (!used.has(status)) continue;
    schemas[problemSchemaName(status)] = {
      type: 'object',
      description: `RFC 9457 problem details (${PROBLEM_CONTENT_TYPE}) of a ${status} answer`,
      required: ['type', 'title', 'status', 'detail', 'code', 'request_id'],
      properties: {
        type: { type: 'string', description: 'urn:hyperion-auth:problem:<code>' },
        title: { type: 'string' },
        status: { type: 'integer', const: status },
        detail: { type: 'string' },
        code: { type: 'string', enum: codes },
        request_id: { type: 'string', description: 'Also in the X-Request-Id header' },
        errors: {
          type: 'array',
          description: 'For validation_failed and weak_password: what is wrong, by field',
          items: {
            type: 'object',
            required: ['field', 'message'],
            properties: { field: { type: 'string' }, message: { type: 'string' } },
          },
        },
      },
    };
  }
  return schemas;
}

/**
 * Failures any route of a kind may answer whatever its own schema says: raised by the router,
 * the content-type parser and the shared onRequest hooks (NUL in the URL, authentication,
 * rate limits, shutdown), or by the error handler for an unexpected error.
 */
function sharedProblems(method: string, traits: RouteTraits): Map<number, string> {
  const problems = new Map<number, string>([
    [
      400,
      'validation_failed: a malformed URL (an undecodable escape, a NUL character), path ' +
        'parameter, query or body',
    ],
  ]);
  if (traits.authenticated)
    problems.set(
      401,
      'unauthorized, token_expired: a missing, malformed, expired or revoked token',
    );
  if (traits.authorized)
    problems.set(403, 'forbidden, mfa_required: the caller lacks the permission or role');
  // Bodies are read (and limited, and refused in an unknown content type) for every method
  // but GET, HEAD and TRACE, whether or not the route expects one.
  if (!['get', 'head', 'trace'].includes(method)) {
    problems.set(413, 'payload_too_large: the body is over the size limit');
    problems.set(415, 'unsupported_media_type: the body is not in a content type the route reads');
  }
  if (traits.rateLimited) problems.set(429, 'rate_limited: try again after Retry-After seconds');
  problems.set(500, 'internal: an unexpected error (its cause is logged, never sent)');
  problems.set(503, 'service_unavailable: a dependency is down, or this instance is shutting down');
  return problems;
}

/** A response the route schema declares through `problemResponses`, whatever its media type. */
function isProblemResponse(response: ResponseObject): boolean {
  const media = Object.values(response.content ?? {});
  return (
    media.length > 0 &&
    media.every((entry) => {
      const properties = entry.schema?.['properties'];
      return (
        typeof properties === 'object' &&
        properties !== null &&
        !Array.isArray(properties) &&
        'request_id' in properties &&
        'code' in properties &&
        'title' in properties
      );
    })
  );
}

function documentProblems(
  method: string,
  operation: OperationObject,
  traits: RouteTraits,
  used: Set<number>,
): void {
  for (const [status, response] of Object.entries(operation.responses)) {
    // Problems are sent as application/problem+json (see sendProblem), not as the
    // application/json @fastify/swagger assumes for every schema.
    if (Number(status) >= 400 && isProblemResponse(response))
      response.content = { [PROBLEM_CONTENT_TYPE]: { schema: problemRef(status, used) } };
  }
  if (traits.ownErrors) return;
  const hasSecurity = (operation.security ?? []).some((entry) => Object.keys(entry).length > 0);
  const shared = sharedProblems(method, {
    ...traits,
    authenticated: traits.authenticated || hasSecurity,
  });
  for (const [status, description] of shared) {
    // A status the route documents keeps its own description (which names its own codes);
    // /ready's 503 JSON, for one, gains the problem a shutting-down instance sends instead.
    const response = (operation.responses[status] ??= { description: `Problem: ${description}` });
    response.content = {
      ...response.content,
      [PROBLEM_CONTENT_TYPE]: response.content?.[PROBLEM_CONTENT_TYPE] ?? {
        schema: problemRef(status, used),
      },
    };
    if (status === 429)
      response.headers = {
        'Retry-After': {
          description: 'Seconds to wait before trying again',
          schema: { type: 'integer' },
        },
        ...response.headers,
      };
  }
}

/**
 * Request schemas say `additionalProperties: false` so that Ajv drops unknown fields
 * (removeAdditional) before a handler sees them; the request is not refused. Published as
 * is, it would make a validating proxy or a generated client refuse requests the service
 * accepts, so the document leaves it out (and says in its description what happens instead).
 */
function withoutClosedObjects(schema: JsonValue): void {
  if (Array.isArray(schema)) {
    for (const item of schema) withoutClosedObjects(item);
    return;
  }
  if (schema === null || typeof schema !== 'object') return;
  if (schema['additionalProperties'] === false) delete schema['additionalProperties'];
  for (const value of Object.values(schema)) withoutClosedObjects(value);
}

/** Whether a body schema admits JSON `null`, which is how a route says "or no body at all". */
function admitsNull(schema: JsonObject | undefined): boolean {
  if (!schema) return false;
  if (schema['type'] === 'null') return true;
  const alternatives = schema['anyOf'] ?? schema['oneOf'];
  return (
    Array.isArray(alternatives) &&
    alternatives.some(
      (item) =>
        typeof item === 'object' && item !== null && !Array.isArray(item) && admitsNull(item),
    )
  );
}

function documentRequestBody(operation: OperationObject): void {
  const body = operation.requestBody;
  if (!body) return;
  for (const media of Object.values(body.content))
    if (media.schema) withoutClosedObjects(media.schema);
  // @fastify/swagger marks every body required; a route whose schema admits null reads none.
  if (Object.values(body.content).some((media) => admitsNull(media.schema))) body.required = false;
}

const UNKNOWN_FIELDS_NOTE =
  'Unknown fields in a JSON request body are ignored: they are dropped before the request ' +
  'is handled, never stored and never an error.';

/**
 * The hooks that make the published document say what the service really sends: @fastify/swagger
 * sees only each route's schema, not the errors raised around it nor the media types of
 * problem details. `transform` notes each route's traits as the document is built (it changes
 * nothing); `transformObject` then rewrites the finished document.
 */
export function openApiHooks(): {
  transform: SwaggerTransform;
  transformObject: (document: { openapiObject: unknown }) => OpenApiDocument;
} {
  const traits = new Map<string, RouteTraits>();
  const transform: SwaggerTransform = ({ schema, url, route }) => {
    const { auth, permission, role, rateLimit, ownErrors } = route.config ?? {};
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods)
      traits.set(`${method.toLowerCase()} ${openApiPath(url)}`, {
        authenticated: Boolean(auth || permission || role),
        authorized: Boolean(permission || role),
        rateLimited: rateLimit === 'auth',
        ownErrors: ownErrors === true,
      });
    return { schema, url };
  };
  const transformObject = ({ openapiObject }: { openapiObject: unknown }) => {
    const document = openapiObject as OpenApiDocument;
    const used = new Set<number>();
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!HTTP_METHODS.includes(method)) continue;
        documentProblems(
          method,
          operation,
          traits.get(`${method} ${path}`) ?? {
            authenticated: false,
            authorized: false,
            rateLimited: false,
            ownErrors: false,
          },
          used,
        );
        documentRequestBody(operation);
      }
    }
    document.components.schemas = { ...document.components.schemas, ...problemSchemas(used) };
    // A copy: @fastify/swagger hands out the info object of its options, which a second
    // rendering (the YAML one) would otherwise find with the note already appended.
    document.info = {
      ...document.info,
      description: [document.info.description, UNKNOWN_FIELDS_NOTE].filter(Boolean).join('\n\n'),
    };
    return document;
  };
  return { transform, transformObject };
}
