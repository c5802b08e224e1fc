/** Why a token was refused: RFC 6750 §3.1's error codes, as a resource server answers them. */
export type VerifyErrorCode = 'invalid_token' | 'insufficient_scope';

/**
 * A verdict on the token: 401 `invalid_token` (missing, malformed, badly signed, expired, for
 * another audience, revoked) or 403 `insufficient_scope`. Anything else thrown by `verify`
 * (the issuer or its keys unreachable) is an outage, not a verdict: answer it 503, never
 * let the request through.
 */
export class VerifyError extends Error {
  override readonly name = 'VerifyError';
  readonly status: 401 | 403;

  constructor(
    readonly code: VerifyErrorCode,
    message: string,
    /** For `insufficient_scope`: every scope the request needs (the challenge's `scope`). */
    readonly requiredScopes: readonly string[] = [],
    /** No token was sent at all: the challenge then carries no `error` (RFC 6750 §3.1). */
    readonly missing = false,
  ) {
    super(message);
    this.status = code === 'insufficient_scope' ? 403 : 401;
  }
}

export function isVerifyError(error: unknown): error is VerifyError {
  return error instanceof VerifyError;
}
