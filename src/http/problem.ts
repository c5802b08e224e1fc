import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type {
  ConnectionError,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
} from 'fastify';
import { isDatabaseUnavailable } from '../db/pg-errors.js';
import { AppError, ERROR_CATALOG, type ErrorCode, type FieldError } from '../errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  request_id: string;
  errors?: FieldError[];
}

export function problemType(code: ErrorCode): string {
  return `urn:hyperion-auth:problem:${code}`;
}

export function buildProblem(request: FastifyRequest, error: AppError): ProblemBody {
  return renderProblem(request.id, error);
}

function renderProblem(requestId: string, error: AppError): ProblemBody {
  const entry = ERROR_CATALOG[error.code];
  const body: ProblemBody = {
    type: problemType(error.code),
    title: entry.title,
    status: entry.status,
    detail: error.detail ?? entry.title,
    code: error.code,
    request_id: requestId,
  };
  if (error.fieldErrors && error.fieldErrors.length > 0) body.errors = [...error.fieldErrors];
  return body;
}

/** Sends an AppError as RFC 9457 problem details; also used by hooks that answer early. */
export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  error: AppError,
): FastifyReply {
  if (error.headers) reply.headers(error.headers);
  // Set here too, not only in the onRequest hook: errors raised before the hooks run (a bad
  // URL, a body-less early failure) must still carry the id the log lines carry.
  reply.header('x-request-id', request.id);
  // Sent as a string with its own type, so no route's response schema reshapes it.
  return reply
    .status(error.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(buildProblem(request, error)));
}

interface AjvIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

// Ajv runs with allErrors, so a hostile body (a long array of wrong items) could produce one
// issue per item; the client needs the first few to fix its request, not an amplified echo.
const MAX_FIELD_ERRORS = 20;

/** Turns Ajv's issues into `{field, message}` pairs a client can show next to an input. */
function toFieldErrors(issues: readonly AjvIssue[], context: string | undefined): FieldError[] {
  return issues.slice(0, MAX_FIELD_ERRORS).map((issue) => {
    const path = (issue.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
    const missing = issue.params?.['missingProperty'];
    const field = typeof missing === 'string' ? (path ? `${path}.${missing}` : missing) : path;
    return { field: field || (context ?? 'body'), message: issue.message ?? 'is not valid' };
  });
}

/**
 * Whether the body itself (not a field of it) failed for not being an object: `[1]`, `"x"`,
 * `42` are valid JSON, and a client told only "not valid" would look for a syntax error.
 */
function isNotAnObject(issues: readonly AjvIssue[]): boolean {
  return issues.some(
    (issue) =>
      (issue.instancePath ?? '') === '' &&
      issue.keyword === 'type' &&
      issue.params?.['type'] === 'object',
  );
}

const FASTIFY_CODES: Readonly<Record<string, { code: ErrorCode; detail: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'payload_too_large',
    detail: 'The request body is too large',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'unsupported_media_type',
    detail: 'Send JSON (application/json)',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'validation_failed',
    detail: 'Content-Length does not match the body',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'validation_failed', detail: 'The JSON body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    code: 'validation_failed',
    detail: 'The body is not valid JSON',
  },
  // Raised by the router (through frameworkErrors) before any hook runs.
  FST_ERR_BAD_URL: { code: 'validation_failed', detail: 'The URL is not valid' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'validation_failed', detail: 'A path parameter is too long' },
};

/** Maps anything thrown while handling a request to the AppError the client sees. */
export function toAppError(error: FastifyError | Error): AppError | undefined {
  if (error instanceof AppError) return error;
  // A handler can throw anything (a string, null); that is a bug to log, not a crash here.
  if (typeof error !== 'object' || error === null) return undefined;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const issues = fastifyError.validation as AjvIssue[];
    return new AppError(
      'validation_failed',
      fastifyError.validationContext === 'body' && isNotAnObject(issues)
        ? 'The body must be a JSON object'
        : 'The request is not valid',
      toFieldErrors(issues, fastifyError.validationContext),
    );
  }
  const known = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) return new AppError(known.code, known.detail);
  if (isDatabaseUnavailable(error))
    return new AppError('service_unavailable', 'A dependency is unavailable; try again shortly');
  const status = typeof fastifyError.statusCode === 'number' ? fastifyError.statusCode : undefined;
  if (status === 404) return new AppError('not_found');
  if (status === 413) return new AppError('payload_too_large');
  if (status === 415) return new AppError('unsupported_media_type');
  // Any other client error Fastify raises (bad headers, bad encoding, …) is the request's fault.
  if (status !== undefined && status >= 400 && status < 500)
    return new AppError('validation_failed', error.message);
  return undefined;
}

/** Renders any error as problem details; unexpected ones are logged and answered generically. */
function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const appError = toAppError(error);
  if (appError) {
    if (appError === error && appError.status >= 500)
      request.log.warn({ code: appError.code }, appError.message);
    else if (appError.status >= 500) request.log.warn({ err: error }, 'dependency unavailable');
    return sendProblem(request, reply, appError);
  }
  // The cause goes to the log (with the request id) and never to the client.
  request.log.error({ err: error }, 'unhandled error');
  return sendProblem(request, reply, new AppError('internal', 'An unexpected error occurred'));
}

/**
 * Fastify's `frameworkErrors` option: errors the router raises before any hook or handler
 * (an undecodable URL, an over-long path parameter) would otherwise be plain JSON with no
 * request id.
 */
export const handleFrameworkError = handleError;

/**
 * Fastify's `clientErrorHandler` option: Node could not parse the request as HTTP at all
 * (garbage request line, oversized headers, a timeout), so there is no request object. The
 * answer is still a problem with an id of its own. Only the error code is logged: the error
 * carries the raw bytes received, which may hold an Authorization header or a cookie.
 */
export function handleClientError(this: FastifyInstance, error: ConnectionError, socket: Socket) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const requestId = randomUUID();
  const detail =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'The request headers are too large'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'The request did not arrive in time'
        : 'The request is not valid HTTP';
  this.log.debug({ request_id: requestId, code: error.code }, 'malformed HTTP request');
  if (socket.writable) {
    const body = JSON.stringify(
      renderProblem(requestId, new AppError('validation_failed', detail)),
    );
    socket.write(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Renders every error as problem details; unexpected ones are logged and answered generically. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      new AppError('not_found', `No route for ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}
