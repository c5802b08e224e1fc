import type { Db } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import { type Actor, assertMayGrant, auditedBy } from '../../lib/actor.js';
import type { UserView } from '../accounts/accounts.schemas.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import type { AccountDeletionService } from '../accounts/account-deletion.service.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import { toUserView } from '../accounts/accounts.schemas.js';
import type { AdminUserFields } from '../accounts/accounts.types.js';
import type { AuditService } from '../audit/audit.service.js';
import type { RolesService } from '../roles/roles.service.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import type { MfaService } from '../mfa/mfa.service.js';
import type { PasskeysService } from '../passkeys/passkeys.service.js';
import type { Passkey } from '../passkeys/passkeys.types.js';
import type { AdminUserPatch, AdminUserView } from './admin-users.schemas.js';

export interface AdminUsersServiceDeps {
  db: Db;
  clock: Clock;
  accounts: AccountsService;
  sessions: SessionsService;
  audit: AuditService;
  accountDeletion: AccountDeletionService;
  roles: RolesService;
  /** The factors a user holds, for the admin's view of them. */
  mfa: Pick<MfaService, 'enrolledKinds'>;
  passkeys: Pick<PasskeysService, 'listOf' | 'removeByAdmin'>;
}

export interface UserListRequest {
  q?: string | undefined;
  role?: string | undefined;
  active?: boolean | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export const DEFAULT_PAGE_SIZE = 50;

/** Running a platform's users: search, change, deactivate, sign out and delete them. */
export class AdminUsersService {
  constructor(private readonly deps: AdminUsersServiceDeps) {}

  async list(request: UserListRequest): Promise<{ items: UserView[]; next_cursor: string | null }> {
    const limit = request.limit ?? DEFAULT_PAGE_SIZE;
    const after = request.cursor ? decodeCursor(request.cursor) : undefined;
    const rows = await this.deps.accounts.listUsers(request, { limit, after });
    const page = toPage(rows, limit, (row) => ({ at: row.created_at, id: row.id }));
    const roles = await this.deps.accounts.rolesOfUsers(page.items.map((row) => row.id));
    return {
      items: page.items.map((row) => toUserView({ ...row, roles: roles.get(row.id) ?? [] })),
      next_cursor: page.next_cursor,
    };
  }

  /** User objects for these ids, in the same order (ids of missing users are skipped). */
  async viewsOf(userIds: readonly string[], db: Db = this.deps.db): Promise<UserView[]> {
    const rows = await this.deps.accounts.findUsersByIds(userIds, db);
    const roles = await this.deps.accounts.rolesOfUsers(userIds, db);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return userIds.flatMap((id) => {
      const row = byId.get(id);
      return row ? [toUserView({ ...row, roles: roles.get(id) ?? [] })] : [];
    });
  }

  async get(userId: string): Promise<AdminUserView> {
    const user = toUserView(await this.deps.accounts.getUser(userId));
    return { ...user, factors: await this.deps.mfa.enrolledKinds(userId) };
  }

  async passkeysOf(userId: string): Promise<Passkey[]> {
    return this.deps.passkeys.listOf(userId);
  }

  /** Removes a user's passkey (a lost or stolen authenticator), within the actor's reach. */
  async removePasskey(userId: string, passkeyId: string, actor: Actor): Promise<void> {
    await this.#assertMayManage(userId, actor);
    await this.deps.passkeys.removeByAdmin(userId, passkeyId, actor);
  }

  /**
   * Applies an admin's change in one transaction with its audit events; refuses (changing
   * nothing) when it would leave no active admin. A deactivated user is signed out
   * everywhere once the change has committed.
   */
  async update(userId: string, patch: AdminUserPatch, actor: Actor): Promise<UserView> {
    const { db, clock, accounts, audit } = this.deps;
    if (Object.values(patch).every((value) => value === undefined))
      throw new AppError('validation_failed', 'Nothing to change', [
        { field: 'body', message: 'names none of name, roles, is_active, email_verified' },
      ]);
    const wantedRoles = patch.roles ? [...new Set(patch.roles)].sort() : undefined;
    if (wantedRoles) await this.deps.roles.assertRolesExist(wantedRoles);
    await this.#assertMayManage(userId, actor);
    const result = await db.transaction().execute(async (trx) => {
      if (!(await accounts.lockUser(trx, userId))) throw new AppError('not_found', 'No such user');
      const changed: string[] = [];
      const fields: AdminUserFields = { updated_at: clock.now() };
      if (patch.name !== undefined) {
        fields.name = patch.name?.trim() || null;
        changed.push('name');
      }
      if (patch.is_active !== undefined) {
        fields.is_active = patch.is_active;
        changed.push('is_active');
      }
      if (patch.email_verified !== undefined) {
        fields.email_verified = patch.email_verified;
        changed.push('email_verified');
      }
      await accounts.updateUser(trx, userId, fields);
      // Revoked in the same transaction: a deactivated user keeps no session, even briefly.
      const revoked =
        patch.is_active === false
          ? await this.deps.sessions.revokeAllForUserWithin(trx, userId, 'deactivated')
          : [];
      if (wantedRoles) {
        const current = await accounts.directRolesOf(trx, userId);
        const added = wantedRoles.filter((role) => !current.includes(role));
        const removed = current.filter((role) => !wantedRoles.includes(role));
        await this.deps.roles.assertMayGrantRoles(actor, added, trx);
        await accounts.removeDirectRoles(trx, userId, removed);
        await accounts.addDirectRoles(trx, userId, added);
        changed.push('roles');
        if (added.length > 0 || removed.length > 0)
          await audit.record(
            { type: 'admin.roles_changed', userId, ...auditedBy(actor, { added, removed }) },
            trx,
          );
      }
      await audit.record(
        { type: 'admin.user_updated', userId, ...auditedBy(actor, { changed }) },
        trx,
      );
      await accounts.assertAnAdminRemains(trx);
      const user = await accounts.findUser(userId, trx);
      if (!user) throw new AppError('not_found', 'No such user');
      return { user, revoked };
    });
    await this.deps.sessions.announceRevoked(result.revoked);
    await accounts.usersChanged([userId]);
    return toUserView(result.user);
  }

  async signOutEverywhere(userId: string, actor: Actor): Promise<void> {
    await this.deps.accounts.getUser(userId);
    await this.#assertMayManage(userId, actor);
    const revoked = await this.deps.sessions.revokeAllForUser(userId, 'revoked_by_admin');
    await this.deps.audit.record({
      type: 'user.signout',
      userId,
      ...auditedBy(actor, {
        all: true,
        // No actor and no service account: the operator, from the CLI.
        ...(actor.actorId === null && !actor.clientId ? { by_operator: true } : { by_admin: true }),
        session_ids: revoked,
      }),
    });
  }

  async delete(userId: string, actor: Actor): Promise<void> {
    await this.deps.accounts.getUser(userId);
    await this.#assertMayManage(userId, actor);
    await this.deps.accountDeletion.deleteByAdmin(userId, actor);
  }

  /**
   * A user who holds rights the actor lacks (an admin, to a helpdesk role) is beyond the
   * actor's reach: changing, signing out or deleting them is refused (403).
   */
  async #assertMayManage(userId: string, actor: Actor): Promise<void> {
    const target = await this.deps.accounts.authorizationOf(userId);
    assertMayGrant(actor, target.permissions);
  }
}
