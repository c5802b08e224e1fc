/** The one catalog of error codes the API answers with: code → HTTP status and title. */
export const ERROR_CATALOG = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  weak_password: { status: 400, title: 'The password does not meet the policy' },
  invalid_token: { status: 400, title: 'The token is spent, expired or unknown' },
  wrong_password: { status: 400, title: 'The current password is wrong' },
  invalid_credentials: { status: 401, title: 'The e-mail or password is wrong' },
  unauthorized: { status: 401, title: 'Authentication is required' },
  token_expired: { status: 401, title: 'The access token has expired' },
  invalid_mfa_code: { status: 401, title: 'The code is wrong' },
  forbidden: { status: 403, title: 'Not allowed' },
  account_disabled: { status: 403, title: 'The account is disabled' },
  email_not_verified: { status: 403, title: 'The e-mail address is not verified' },
  mfa_required: { status: 403, title: 'A second factor is required' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  email_taken: { status: 409, title: 'The e-mail address is already registered' },
  conflict: { status: 409, title: 'The request conflicts with the current state' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  unsupported_media_type: { status: 415, title: 'The content type is not supported' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal error' },
  service_unavailable: { status: 503, title: 'The service is temporarily unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** The given codes (by default the whole catalog) grouped by the status each answers with. */
export function codesByStatus(
  codes: readonly ErrorCode[] = Object.keys(ERROR_CATALOG) as ErrorCode[],
): Map<number, ErrorCode[]> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const { status } = ERROR_CATALOG[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return byStatus;
}

export interface FieldError {
  field: string;
  message: string;
}

/** A failure the client is told about: a catalog code, an optional detail and field errors. */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly fieldErrors?: readonly FieldError[],
    /** Extra response headers, e.g. Retry-After. */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(detail ?? ERROR_CATALOG[code].title);
    this.name = 'AppError';
    this.status = ERROR_CATALOG[code].status;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
