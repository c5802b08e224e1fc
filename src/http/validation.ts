import type { FastifyInstance } from 'fastify';
import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import { AppError } from '../errors.js';
import {
  UNSTORABLE_TEXT_DETAIL,
  containsUnstorableText,
  formContainsUnstorableText,
} from './unstorable-text.js';
import { INVALID_UTF8, formEscapesAreUtf8 } from './strict-text.js';

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
  // Text the database cannot store (see unstorable-text.ts) is refused once, here, for every
  // route, whatever parsed it. Path parameters and the query string are checked on request,
  // before authentication or rate limiting answer anything; a decoded %00 there is a NUL.
  app.addHook('onRequest', (request, _reply, done) => {
    if (containsUnstorableText(request.params))
      done(new AppError('validation_failed', `A path parameter ${UNSTORABLE_TEXT_DETAIL}`));
    else if (containsUnstorableText(request.query))
      done(new AppError('validation_failed', `The query string ${UNSTORABLE_TEXT_DETAIL}`));
    else done();
  });
  // The body once a parser has made it a value, before any handler or query sees it: a JSON
  // object, or the text the token endpoint's form parser hands on undecoded (its handler reads
  // a JSON string body as form parameters too, so any string is checked as a form).
  app.addHook('preValidation', async (request) => {
    const { body } = request;
    // An escape of bytes that are not UTF-8 (%FF) decodes to U+FFFD without a word, and would
    // be compared as text the client never sent; the parsers refuse raw bytes the same way.
    if (typeof body === 'string' && !formEscapesAreUtf8(body))
      throw new AppError('validation_failed', INVALID_UTF8);
    const unstorable =
      typeof body === 'string' ? formContainsUnstorableText(body) : containsUnstorableText(body);
    if (unstorable) throw new AppError('validation_failed', `The body ${UNSTORABLE_TEXT_DETAIL}`);
  });
}
