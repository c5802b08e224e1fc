import { AppError } from '../errors.js';

/** A keyset position: the sort value and the id that breaks ties. */
export interface KeysetCursor {
  at: Date;
  id: string;
}

/** Opaque to clients: base64url of the position, so they cannot hand-craft page edges. */
export function encodeCursor(cursor: KeysetCursor): string {
  return Buffer.from(JSON.stringify([cursor.at.toISOString(), cursor.id])).toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const isUuid = (id: string): boolean => UUID.test(id);

/** `isId` checks the tie-breaking id: a UUID unless the list is keyed otherwise (client ids). */
export function decodeCursor(text: string, isId: (id: string) => boolean = isUuid): KeysetCursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2) {
      const [at, id] = parsed as [unknown, unknown];
      const date = typeof at === 'string' ? new Date(at) : undefined;
      if (date && !Number.isNaN(date.getTime()) && typeof id === 'string' && isId(id))
        return { at: date, id };
    }
  } catch {
    // fall through to the one error below
  }
  throw new AppError('validation_failed', 'The cursor is not valid', [
    { field: 'cursor', message: 'is not valid' },
  ]);
}

/**
 * Splits a page fetched with limit + 1 rows: the extra row only says there is more, and
 * the cursor points after the last row returned.
 */
export function toPage<T>(rows: T[], limit: number, positionOf: (row: T) => KeysetCursor) {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  const next_cursor = rows.length > limit && last ? encodeCursor(positionOf(last)) : null;
  return { items, next_cursor };
}

/**
 * A cursor over a unique text key (role names): opaque like the keyset cursor, so clients
 * do not depend on its form.
 */
export function encodeKeyCursor(key: string): string {
  return Buffer.from(JSON.stringify([key])).toString('base64url');
}

export function decodeKeyCursor(text: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 1 && typeof parsed[0] === 'string')
      return parsed[0];
  } catch {
    // fall through to the one error below
  }
  throw new AppError('validation_failed', 'The cursor is not valid', [
    { field: 'cursor', message: 'is not valid' },
  ]);
}
