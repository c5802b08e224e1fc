import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

// Bytes that are not UTF-8 would otherwise become U+FFFD without a word, and be compared or
// stored as something the client never sent: such a body is refused instead.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export const INVALID_UTF8 = 'The body is not valid UTF-8';

/** The body as text, or a 400 `validation_failed` if its bytes are not UTF-8. */
export function decodeUtf8Body(buffer: Buffer): string {
  try {
    return strictUtf8.decode(buffer);
  } catch {
    throw new AppError('validation_failed', INVALID_UTF8);
  }
}

// A run of percent-escapes: one character's bytes are always escaped side by side.
const ESCAPE_RUN = /(?:%[0-9A-Fa-f]{2})+/g;

/**
 * Whether the percent-escapes of form-encoded text stand for UTF-8: URLSearchParams decodes
 * `%FF`, or an escaped lone surrogate `%ED%A0%80`, to U+FFFD without a word. A lone `%` that
 * escapes nothing is left alone, as URLSearchParams leaves it.
 */
export function formEscapesAreUtf8(form: string): boolean {
  for (const [run] of form.matchAll(ESCAPE_RUN)) {
    try {
      decodeURIComponent(run);
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Lets the routes of the plugin it is called in accept `application/x-www-form-urlencoded`
 * bodies: as the decoded text (`'text'`, read with URLSearchParams where repeated parameters
 * matter, as at the OAuth endpoints), or as an object of its fields (`'fields'`, the last of
 * a repeated one). Bytes that are not UTF-8 are refused.
 */
export function acceptFormBodies(app: FastifyInstance, as: 'text' | 'fields' = 'text'): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'buffer' },
    (_request, body, done) => {
      try {
        const text = decodeUtf8Body(body as Buffer);
        done(null, as === 'text' ? text : Object.fromEntries(new URLSearchParams(text)));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
}
