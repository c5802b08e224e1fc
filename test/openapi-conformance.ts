import { createHash } from 'node:crypto';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import {
  HTTP_METHODS,
  type JsonObject,
  type JsonValue,
  type OpenApiDocument,
  type OperationObject,
} from '../src/http/openapi.js';

/** One answer the service sent, as a client (or a validating proxy) sees it. */
export interface ObservedResponse {
  method: string;
  /** The request URL as sent: path and query, still percent-encoded. */
  url: string;
  status: number;
  contentType: string | undefined;
  /** The body as text; undefined when it was a stream the check cannot read. */
  body: string | undefined;
}

interface CompiledPath {
  template: string;
  segments: { literal: string | undefined }[];
}

// One compiler and one cache per process: the documents of different test apps differ only
// in a few descriptions and URLs, so each schema compiles once per worker, not once per app.
// validateSchema off: checking each schema against the 2020-12 meta-schema would cost more than
// all the checks of a test file; a schema Ajv cannot use still fails to compile.
const ajv = new Ajv2020({ strict: false, allErrors: false, validateSchema: false });
addFormats.default(ajv);
const validators = new Map<string, ValidateFunction>();
const registered = new Set<string>();

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A copy of the schema whose `#/components/schemas/X` references name `ids.get(X)`. */
function withComponentIds(value: JsonValue, ids: ReadonlyMap<string, string>): JsonValue {
  if (Array.isArray(value)) return value.map((item) => withComponentIds(item, ids));
  if (!isObject(value)) return value;
  const copy: JsonObject = {};
  for (const [key, child] of Object.entries(value)) {
    const name =
      key === '$ref' && typeof child === 'string'
        ? /^#\/components\/schemas\/(.+)$/.exec(child)?.[1]
        : undefined;
    copy[key] =
      name !== undefined ? (ids.get(name) ?? String(child)) : withComponentIds(child, ids);
  }
  return copy;
}

/**
 * Registers the document's component schemas with the process's compiler, each under an id
 * made from its content (the same Problem401 of every app is one schema), and answers the
 * id of each name.
 */
function registerComponents(components: Record<string, JsonObject>): Map<string, string> {
  const ids = new Map<string, string>();
  for (const [name, schema] of Object.entries(components))
    ids.set(
      name,
      `urn:openapi:${name}:${createHash('sha256').update(JSON.stringify(schema)).digest('hex')}`,
    );
  for (const [name, schema] of Object.entries(components)) {
    const id = ids.get(name)!;
    // Added, not compiled: only the components an answer's schema refers to ever compile.
    if (!registered.has(id)) ajv.addSchema(withComponentIds(schema, ids) as JsonObject, id);
    registered.add(id);
  }
  return ids;
}

/** The media type without parameters, lower case: `application/json; charset=utf-8` → `application/json`. */
function essence(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

function isJsonMediaType(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

/**
 * Checks real answers against the published OpenAPI document the way a validating proxy
 * (Prism) does: the operation found by method and path template, the status documented for
 * it, the media type documented for that status, and the body valid against its schema.
 */
export class OpenApiConformance {
  /** `GET /api/admin/users/{id}` of every operation that had an answer checked. */
  readonly covered = new Set<string>();
  private readonly paths: CompiledPath[];
  private readonly componentIds: Map<string, string>;
  /** By schema object of this document: finding it costs a lookup, not a serialization. */
  private readonly compiled = new WeakMap<JsonObject, ValidateFunction>();

  constructor(readonly document: OpenApiDocument) {
    this.componentIds = registerComponents(document.components.schemas ?? {});
    this.paths = Object.keys(document.paths).map((template) => ({
      template,
      segments: template
        .split('/')
        .map((segment) => ({ literal: /^\{.+\}$/.test(segment) ? undefined : segment })),
    }));
  }

  /** Every operation of the document, as `METHOD /path`. */
  operations(): string[] {
    return Object.entries(this.document.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((method) => HTTP_METHODS.includes(method))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
  }

  /**
   * The operation a URL belongs to, as the router would pick it: a literal segment wins over a
   * parameter at the same depth; a trailing slash is ignored (ignoreTrailingSlash).
   */
  operationOf(
    method: string,
    url: string,
  ): { key: string; operation: OperationObject } | undefined {
    let path = url.split('?')[0] ?? '';
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const segments = path.split('/');
    const candidates = this.paths.filter(
      (candidate) =>
        candidate.segments.length === segments.length &&
        candidate.segments.every(({ literal }, index) =>
          literal === undefined ? (segments[index] ?? '') !== '' : literal === segments[index],
        ) &&
        this.document.paths[candidate.template]?.[method.toLowerCase()] !== undefined,
    );
    const rank = (candidate: CompiledPath) =>
      candidate.segments.map(({ literal }) => (literal === undefined ? '1' : '0')).join('');
    const best = candidates.sort((a, b) => rank(a).localeCompare(rank(b)))[0];
    if (!best) return undefined;
    const operation = this.document.paths[best.template]?.[method.toLowerCase()];
    return operation && { key: `${method.toUpperCase()} ${best.template}`, operation };
  }

  /**
   * What is wrong with one answer, or nothing. Answers outside the document's operations (an
   * unknown route's 404, the docs themselves, HEAD and CORS preflight) are not its business.
   */
  check(observed: ObservedResponse): string[] {
    const found = this.operationOf(observed.method, observed.url);
    if (!found) return [];
    const { key, operation } = found;
    const where = `${key} (${observed.method} ${observed.url}) answered ${observed.status}`;
    const response =
      operation.responses[String(observed.status)] ??
      operation.responses[`${String(observed.status)[0]}XX`] ??
      operation.responses['default'];
    if (!response) {
      return [
        `${where}, a status not documented (documented: ${Object.keys(operation.responses).join(', ')})`,
      ];
    }
    this.covered.add(key);
    // Node sends no body with these whatever the handler gave (Fastify's 204 sends "null" to
    // onSend), so a client sees none.
    if (observed.status === 204 || observed.status === 304) return [];
    const body = observed.body ?? '';
    const content = response.content ?? {};
    if (Object.keys(content).length === 0) {
      return observed.body === '' || observed.body === undefined
        ? []
        : [`${where} with a body, but the document says it has none`];
    }
    if (observed.contentType === undefined)
      return [`${where} without a Content-Type; documented: ${Object.keys(content).join(', ')}`];
    const mediaType = essence(observed.contentType);
    const media = content[mediaType] ?? content[`${mediaType.split('/')[0]}/*`] ?? content['*/*'];
    if (!media) {
      return [
        `${where} as ${mediaType}, a media type not documented for it ` +
          `(documented: ${Object.keys(content).join(', ')})`,
      ];
    }
    if (!media.schema || observed.body === undefined) return [];
    let instance: unknown = body;
    if (isJsonMediaType(mediaType)) {
      try {
        instance = JSON.parse(body);
      } catch {
        return [`${where} as ${mediaType}, but the body is not JSON: ${body.slice(0, 200)}`];
      }
    }
    const validate = this.validatorFor(media.schema);
    if (validate(instance)) return [];
    const issues = (validate.errors ?? [])
      .slice(0, 5)
      .map((issue) => `${issue.instancePath || '(body)'} ${issue.message ?? 'is not valid'}`);
    return [`${where}: the body does not match the documented schema: ${issues.join('; ')}`];
  }

  private validatorFor(schema: JsonObject): ValidateFunction {
    let validate = this.compiled.get(schema);
    if (validate) return validate;
    const standalone = withComponentIds(schema, this.componentIds) as JsonObject;
    const cacheKey = JSON.stringify(standalone);
    validate = validators.get(cacheKey);
    if (!validate) {
      validate = ajv.compile(standalone);
      validators.set(cacheKey, validate);
    }
    this.compiled.set(schema, validate);
    return validate;
  }
}

/**
 * Checks every answer of an app against its own /openapi.json as it is sent. Installed on the
 * bare instance (see BuildAppOptions.instrument) so that its onSend hook reaches every route.
 * A mismatch never changes the answer (the test under way sees what a client would); it is
 * collected and reported when the app closes.
 */
export function conformanceRecorder(): {
  instrument: (app: FastifyInstance) => void;
  failures: string[];
  conformance: () => OpenApiConformance | undefined;
} {
  const failures: string[] = [];
  let conformance: OpenApiConformance | undefined;
  const instrument = (app: FastifyInstance) => {
    app.addHook('onSend', async (request, reply, payload) => {
      try {
        conformance ??= new OpenApiConformance(app.swagger() as unknown as OpenApiDocument);
        const contentType = reply.getHeader('content-type');
        failures.push(
          ...conformance.check({
            method: request.method,
            url: request.url,
            status: reply.statusCode,
            contentType: contentType === undefined ? undefined : String(contentType),
            body:
              payload === null || payload === undefined
                ? ''
                : typeof payload === 'string'
                  ? payload
                  : Buffer.isBuffer(payload)
                    ? payload.toString('utf8')
                    : undefined,
          }),
        );
      } catch (error) {
        failures.push(`checking ${request.method} ${request.url} failed: ${String(error)}`);
      }
      return payload;
    });
  };
  return { instrument, failures, conformance: () => conformance };
}
