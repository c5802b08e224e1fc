// The event types on their own: the route schema (an enum) and the service both need them,
// and neither may import the other (that was an import cycle).

/** Every event type the trail records (API.md, administration). */
export const AUDIT_EVENT_TYPES = [
  'user.signup',
  'user.signin',
  'user.signin_failed',
  'user.signout',
  'session.refresh_reused',
  'password.reset_requested',
  'password.reset',
  'password.changed',
  'email.verified',
  'mfa.enabled',
  'mfa.disabled',
  'mfa.recovery_code_used',
  'user.deleted',
  'admin.user_updated',
  'admin.roles_changed',
  'role.created',
  'role.updated',
  'role.deleted',
  'group.changed',
  'service_account.created',
  'service_account.rotated',
  'service_account.deleted',
  'keys.rotated',
  'oauth.authorized',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];
