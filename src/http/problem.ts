import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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
  const entry = ERROR_CATALOG[error.code];
  const body: ProblemBody = {
    type: problemType(error.code),
    title: entry.title,
    status: entry.status,
    detail: error.detail ?? entry.title,
    code: error.code,
    request_id: request.id,
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

/** Turns Ajv's issues into `{field, message}` pairs a client can show next to an input. */
function toFieldErrors(issues: readonly AjvIssue[], context: string | undefined): FieldError[] {
  return issues.map((issue) => {
    const path = (issue.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
    const missing = issue.params?.['missingProperty'];
    const field = typeof missing === 'string' ? (path ? `${path}.${missing}` : missing) : path;
    return { field: field || (context ?? 'body'), message: issue.message ?? 'is not valid' };
  });
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
};

/** Maps anything thrown while handling a request to the AppError the client sees. */
export function toAppError(error: FastifyError | Error): AppError | undefined {
  if (error instanceof AppError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    return new AppError(
      'validation_failed',
      'The request is not valid',
      toFieldErrors(fastifyError.validation as AjvIssue[], fastifyError.validationContext),
    );
  }
  const known = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) return new AppError(known.code, known.detail);
  if (isDatabaseUnavailable(error))
    return new AppError('service_unavailable', 'A dependency is unavailable; try again shortly');
  const status = fastifyError.statusCode;
  if (status === 404) return new AppError('not_found');
  if (status === 413) return new AppError('payload_too_large');
  if (status === 415) return new AppError('unsupported_media_type');
  // Any other client error Fastify raises (bad headers, bad encoding, …) is the request's fault.
  if (status !== undefined && status >= 400 && status < 500)
    return new AppError('validation_failed', error.message);
  return undefined;
}

/** Renders every error as problem details; unexpected ones are logged and answered generically. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (appError) {
      if (appError.status >= 500) request.log.warn({ err: error }, 'dependency unavailable');
      return sendProblem(request, reply, appError);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(request, reply, new AppError('internal', 'An unexpected error occurred'));
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      new AppError('not_found', `No route for ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}
