import { AppError } from '../errors.js';
import type { ClientContext } from './client.js';
import { grants } from './permissions.js';

/**
 * Who made an administrative change, for the audit trail: a signed-in user, or no one (the
 * operator CLI, or a service account — whose client id goes into the event's data).
 * Services take this, never a request: the HTTP side builds it (http/actor.ts `actorOf`).
 */
export interface Actor {
  actorId: string | null;
  client?: ClientContext | undefined;
  /** Set when a service account acted. */
  clientId?: string | undefined;
  /** What the actor holds, and so may grant (`*`: everything). */
  permissions: readonly string[];
}

/** The operator at the command line: no account, every right. */
export const OPERATOR: Actor = { actorId: null, permissions: ['*'] };

/**
 * No one grants what they do not hold: a helpdesk role with `users:write` cannot make
 * anyone (itself included) an admin, nor create a role or service account broader than
 * itself. Refuses with 403 naming what is missing.
 */
export function assertMayGrant(actor: Actor, permissions: readonly string[]): void {
  const missing = [...new Set(permissions)].filter(
    (permission) => !grantsPermission(actor.permissions, permission),
  );
  if (missing.length > 0)
    throw new AppError(
      'forbidden',
      `You cannot grant what you do not hold: ${missing.sort().join(', ')}`,
    );
}

function grantsPermission(held: readonly string[], needed: string): boolean {
  if (held.includes('*')) return true;
  // `resource:*` is granted only by `resource:*` (or `*`), `*` only by `*`.
  if (needed === '*') return false;
  return grants(held, needed);
}

/** The actor's part of an audit event: who, from where, and a service account's client id. */
export function auditedBy(actor: Actor, data: Record<string, unknown> = {}) {
  return {
    actorId: actor.actorId,
    ...actor.client,
    data: actor.clientId ? { ...data, client_id: actor.clientId } : data,
  };
}
