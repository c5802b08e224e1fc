import { Type } from 'typebox';

/** RFC 6749 §5.2 error codes, with the HTTP status each is answered with. */
export const OAUTH_ERRORS = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  /** RFC 8707: the resource is unknown, or not the one the grant was for. */
  invalid_target: 400,
  /** RFC 8628 §3.5: the device polls on while the person has not answered. */
  authorization_pending: 400,
  /** RFC 8628 §3.5: polled faster than the interval; the interval grows by 5 seconds. */
  slow_down: 400,
  /** RFC 8628 §3.5: the person denied the device. */
  access_denied: 400,
  /** RFC 8628 §3.5: the device code expired before the person approved it. */
  expired_token: 400,
  temporarily_unavailable: 503,
  server_error: 500,
} as const;

export type OAuthErrorCode = keyof typeof OAUTH_ERRORS;

/** The body of every token-endpoint failure (RFC 6749 §5.2). */
export const OAuthErrorSchema = Type.Object({
  error: Type.String(),
  error_description: Type.String(),
});

/**
 * The failure statuses of an endpoint that speaks the OAuth error format (useOAuthFormat), for
 * its OpenAPI responses.
 */
export const OAUTH_ERROR_RESPONSES = {
  400: OAuthErrorSchema,
  401: OAuthErrorSchema,
  413: OAuthErrorSchema,
  429: OAuthErrorSchema,
  500: OAuthErrorSchema,
  503: OAuthErrorSchema,
};

/** A token-endpoint failure, rendered as `{error, error_description}` rather than a problem. */
export class OAuthError extends Error {
  readonly status: number;

  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(description);
    this.name = 'OAuthError';
    this.status = OAUTH_ERRORS[code];
  }
}

// The two failures below are raised by services that implement a grant's rules (today the
// service accounts' client_credentials). They are not AppErrors on purpose: they have no
// problem+json form, only the token endpoint answers them, and as catalog codes they would
// join the `code` enums of the OpenAPI problem schemas although no route sends them as
// problems. The grant that called the service turns them into OAuthErrors, adding what only
// it knows (the Basic challenge).

/** Client authentication failed; the token endpoint answers `invalid_client`. */
export class InvalidClientError extends Error {}
/** A requested scope is not the client's; the token endpoint answers `invalid_scope`. */
export class InvalidScopeError extends Error {}
