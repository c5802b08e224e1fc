import type { FastifyInstance } from 'fastify';
import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import { AppError } from '../errors.js';

function createAjv(coerceTypes: Options['coerceTypes']): Ajv {
  const ajv = new Ajv({
    coerceTypes,
    // Unknown fields are dropped (where a schema says additionalProperties: false), never stored.
    removeAdditional: true,
    useDefaults: true,
    allErrors: true,
    strict: false,
  });
  addFormats.default(ajv);
  return ajv;
}

/**
 * Bodies are validated strictly: `{"password": 12345678}` is a wrong type, not a string.
 * Query strings, path parameters and headers are text on the wire, so they are coerced.
 */
export function registerValidators(app: FastifyInstance): void {
  const bodyAjv = createAjv(false);
  const textAjv = createAjv('array');
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? bodyAjv : textAjv;
    return ajv.compile(schema);
  });
  // PostgreSQL text cannot hold NUL: a %00 decoded into a path parameter or a query value would
  // fail in the database (a 500) instead of here. No legitimate client sends one. (The JSON
  // parser refuses "\u0000" in bodies for the same reason.)
  app.addHook('onRequest', async (request) => {
    if (request.url.includes('%00'))
      throw new AppError('validation_failed', 'The URL contains a NUL character');
  });
}
