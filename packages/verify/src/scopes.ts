import { VerifyError } from './errors.js';

/** The scopes of a token's `scope` claim (RFC 9068: a space-separated string). */
export function scopesOf(claim: unknown): string[] {
  if (typeof claim !== 'string') return [];
  return claim.split(' ').filter((scope) => scope.length > 0);
}

/** Throws 403 `insufficient_scope` naming every required scope unless the token holds them all. */
export function requireScopes(
  token: { scopes: readonly string[] },
  required: readonly string[],
): void {
  const missing = required.filter((scope) => !token.scopes.includes(scope));
  if (missing.length > 0)
    throw new VerifyError(
      'insufficient_scope',
      `The token lacks the scope ${missing.join(' ')}`,
      required,
    );
}
