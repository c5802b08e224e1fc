/** Helpers that recognise PostgreSQL errors, from `pg` and from PGlite alike. */

interface PgErrorLike {
  code?: unknown;
  constraint?: unknown;
}

function asPgError(error: unknown): PgErrorLike | undefined {
  return typeof error === 'object' && error !== null ? (error as PgErrorLike) : undefined;
}

/** A unique constraint was violated; when `constraint` is given, only that one. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const pgError = asPgError(error);
  if (pgError?.code !== '23505') return false;
  return constraint === undefined || pgError.constraint === constraint;
}

export function isForeignKeyViolation(error: unknown): boolean {
  return asPgError(error)?.code === '23503';
}

// Connection failures (Node's network codes) and PostgreSQL's "server is going away" classes:
// 08 connection exception, 53 insufficient resources, 57P01-57P03 shutdown / cannot connect now.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);

/** The database could not answer (down, unreachable, shutting down): the request gets a 503. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const pgError = asPgError(error);
  if (!pgError) return false;
  const code = typeof pgError.code === 'string' ? pgError.code : '';
  if (NETWORK_CODES.has(code) || code.startsWith('08') || code.startsWith('53')) return true;
  if (['57P01', '57P02', '57P03'].includes(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    message,
  );
}
