import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

// JSON may escape characters that are valid JSON but cannot be stored as PostgreSQL text: a
// lone UTF-16 surrogate ("\ud800", which the driver would silently turn into U+FFFD, just like
// invalid UTF-8 bytes) and NUL ("\u0000", which PostgreSQL refuses: a 500 on any text column).
const UNSTORABLE_ESCAPE = /\\u(?:[dD][89a-fA-F]|0000)/;
const UNSTORABLE_CHARACTER = /[\p{Cs}\0]/u;

/** Whether any string (key or value) of a parsed body is unstorable text; no recursion. */
function hasUnstorableText(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') {
      if (UNSTORABLE_CHARACTER.test(item)) return true;
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        if (UNSTORABLE_CHARACTER.test(key)) return true;
        pending.push(child);
      }
    }
  }
  return false;
}

/**
 * Replaces Fastify's JSON parser with one that refuses invalid UTF-8 (the default
 * silently turns it into U+FFFD, which would then be stored) and text PostgreSQL cannot
 * store, and keeps the default's prototype-poisoning protection. An empty body parses as no
 * body.
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
      text = strictUtf8.decode(buffer);
    } catch {
      return done(new AppError('validation_failed', 'The body is not valid UTF-8'), undefined);
    }
    parseJson(request, text, (error, parsed) => {
      if (error)
        return done(new AppError('validation_failed', 'The body is not valid JSON'), undefined);
      // The walk only runs when the text has such an escape at all, so normal bodies pay
      // one regex scan.
      if (UNSTORABLE_ESCAPE.test(text) && hasUnstorableText(parsed))
        return done(
          new AppError(
            'validation_failed',
            'The body contains a NUL character or an unpaired UTF-16 surrogate',
          ),
          undefined,
        );
      done(null, parsed);
    });
  });
}
