/**
 * Permissions are `resource:action` strings. A granted permission matches a needed one
 * when equal, when it is `resource:*` for the same resource, or when it is `*`.
 */
export const PERMISSION_PATTERN = '^(\\*|[a-z][a-z0-9_.-]{0,63}:(\\*|[a-z][a-z0-9_.-]{0,63}))$';

const PERMISSION = new RegExp(PERMISSION_PATTERN);

export function isPermission(text: string): boolean {
  return PERMISSION.test(text);
}

export function grants(granted: readonly string[], needed: string): boolean {
  const resource = needed.slice(0, needed.indexOf(':'));
  return granted.some(
    (permission) => permission === '*' || permission === needed || permission === `${resource}:*`,
  );
}

/** Every account holds this role from sign-up on. */
export const DEFAULT_ROLE = 'user';
/** Holds every permission; the last active one cannot be removed. */
export const ADMIN_ROLE = 'admin';
