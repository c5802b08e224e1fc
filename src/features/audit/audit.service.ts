import type { Db } from '../../db/create-db.js';
import type { Clock } from '../../lib/clock.js';

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
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export interface AuditEventInput {
  type: AuditEventType;
  /** Who did it (null for the anonymous or the system). */
  actorId?: string | null;
  /** Whom it concerns. */
  userId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** Small, non-secret context: never a password, token, hash or code. */
  data?: Record<string, unknown>;
}

const USER_AGENT_MAX = 512;

/** The append-only audit trail: features record what happened; nothing updates a row. */
export class AuditService {
  constructor(private readonly deps: { db: Db; clock: Clock }) {}

  /** Records an event; pass a transaction to make it part of the change it describes. */
  async record(event: AuditEventInput, db: Db = this.deps.db): Promise<void> {
    await db
      .insertInto('audit_events')
      .values({
        type: event.type,
        at: this.deps.clock.now(),
        actor_id: event.actorId ?? null,
        user_id: event.userId ?? null,
        ip: event.ip ?? null,
        user_agent: event.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
        data: JSON.stringify(event.data ?? {}),
      })
      .execute();
  }

  /**
   * After an account is deleted its events keep only the user id: addresses and user agents
   * in which the user appears (as subject or actor) are erased.
   */
  async forgetPersonalData(db: Db, userId: string): Promise<void> {
    await db
      .updateTable('audit_events')
      .set({ ip: null, user_agent: null })
      .where((eb) => eb.or([eb('user_id', '=', userId), eb('actor_id', '=', userId)]))
      .execute();
  }
}
