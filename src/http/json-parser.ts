import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';
import { decodeUtf8Body } from './strict-text.js';

/**
 * Why the default parser refused the text. It also refuses syntactically valid JSON that
 * would poison prototypes (a `__proto__` or `constructor.prototype` key); calling that "not
 * valid JSON" sends the client looking for a syntax error. Only failures pay the second parse.
 */
function jsonErrorDetail(text: string): string {
  try {
    JSON.parse(text);
  } catch {
    return 'The body is not valid JSON';
  }
  return 'The body may not contain a __proto__ or constructor.prototype key';
}

/**
 * Replaces Fastify's JSON parser with one that refuses invalid UTF-8 (the default
 * silently turns it into U+FFFD, which would then be stored), and keeps the default's
 * prototype-poisoning protection. An empty body parses as no body. Text PostgreSQL cannot
 * store (an escaped NUL or lone surrogate) is refused after parsing, for every body type, by
 * the hook in validation.ts.
 */
export function registerStrictJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // Only JSON is spoken (the token endpoint adds form encoding for itself); any other
  // content type, text/plain included, is a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const buffer = body as Buffer;
    if (buffer.length === 0) return done(null, undefined);
    let text: string;
    try {
      text = decodeUtf8Body(buffer);
    } catch (error) {
      return done(error as Error, undefined);
    }
    parseJson(request, text, (error, parsed) => {
      if (error) return done(new AppError('validation_failed', jsonErrorDetail(text)), undefined);
      done(null, parsed);
    });
  });
}
