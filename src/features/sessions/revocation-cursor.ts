import { AppError } from '../../errors.js';

// A place in the revocation feed: the number of the last revocation read (sessions.
// revocation_seq, numbered in commit order). Opaque to readers, like every cursor here.

const SEQ = /^r(\d{1,19})$/;

export function encodeRevocationCursor(seq: string): string {
  return Buffer.from(`r${seq}`).toString('base64url');
}

/** The number a cursor names; a cursor this service did not write is a 400. */
export function decodeRevocationCursor(cursor: string, field = 'since'): string {
  const match = SEQ.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (!match?.[1])
    throw new AppError('validation_failed', 'The cursor is not valid', [
      { field, message: 'is not a cursor of this feed' },
    ]);
  return match[1];
}
