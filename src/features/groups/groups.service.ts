import type { Db, Trx } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import { type Actor, auditedBy } from '../../lib/actor.js';
import type { UserView } from '../accounts/accounts.schemas.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { AdminUsersService } from '../admin/admin-users.service.js';
import type { AuditService } from '../audit/audit.service.js';
import type { RolesService } from '../roles/roles.service.js';
import * as repo from './groups.repository.js';
import type { CreateGroup, GroupView, UpdateGroup } from './groups.schemas.js';

export interface GroupsServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditService;
  accounts: AccountsService;
  roles: RolesService;
  adminUsers: AdminUsersService;
}

type GroupAction = 'created' | 'updated' | 'deleted' | 'member_added' | 'member_removed';

function toGroupView(group: repo.GroupRecord): GroupView {
  return {
    id: group.id,
    name: group.name,
    description: group.description,
    roles: group.roles,
    created_at: group.created_at.toISOString(),
  };
}

const uniqueSorted = (values: readonly string[]) => [...new Set(values)].sort();

/** Groups whose members inherit the group's roles. */
export class GroupsService {
  constructor(private readonly deps: GroupsServiceDeps) {}

  async list(page: { limit: number; cursor?: string | undefined }) {
    const after = page.cursor ? decodeCursor(page.cursor) : undefined;
    const rows = await repo.listGroups(this.deps.db, { limit: page.limit, after });
    const { items, next_cursor } = toPage(rows, page.limit, (row) => ({
      at: row.created_at,
      id: row.id,
    }));
    return { items: items.map(toGroupView), next_cursor };
  }

  async get(id: string): Promise<GroupView> {
    return toGroupView(await this.#find(this.deps.db, id));
  }

  async create(input: CreateGroup, actor: Actor): Promise<GroupView> {
    const roles = uniqueSorted(input.roles ?? []);
    await this.deps.roles.assertRolesExist(roles);
    await this.deps.roles.assertMayGrantRoles(actor, roles);
    return this.deps.db.transaction().execute(async (trx) => {
      const id = await repo.insertGroup(trx, {
        name: input.name.trim(),
        description: input.description?.trim() ?? '',
        now: this.deps.clock.now(),
      });
      await repo.replaceGroupRoles(trx, id, roles);
      await this.#audit(trx, actor, id, 'created', { name: input.name.trim(), roles });
      return toGroupView(await this.#find(trx, id));
    });
  }

  /**
   * Renames, describes or replaces the group's roles; refused when it would leave no
   * active admin (the last admin may be one only through this group).
   */
  async update(id: string, input: UpdateGroup, actor: Actor): Promise<GroupView> {
    const roles = input.roles ? uniqueSorted(input.roles) : undefined;
    if (roles) await this.deps.roles.assertRolesExist(roles);
    let rolesChanged = false;
    const view = await this.deps.db.transaction().execute(async (trx) => {
      const before = await this.#find(trx, id, { forUpdate: true });
      // Changing a group changes what its members may do: only within what the actor holds.
      await this.deps.roles.assertMayGrantRoles(actor, [...before.roles, ...(roles ?? [])], trx);
      await repo.updateGroup(trx, id, {
        ...(input.name !== undefined ? { name: input.name.trim() } : {}),
        ...(input.description !== undefined ? { description: input.description.trim() } : {}),
        updated_at: this.deps.clock.now(),
      });
      const changed = Object.keys(input).filter(
        (key) => input[key as keyof UpdateGroup] !== undefined,
      );
      const data: Record<string, unknown> = { changed };
      if (roles) {
        await repo.replaceGroupRoles(trx, id, roles);
        data['added'] = roles.filter((role) => !before.roles.includes(role));
        data['removed'] = before.roles.filter((role) => !roles.includes(role));
        rolesChanged = roles.join(' ') !== before.roles.join(' ');
      }
      await this.#audit(trx, actor, id, 'updated', data);
      if (roles) await this.deps.accounts.assertAnAdminRemains(trx);
      return toGroupView(await this.#find(trx, id));
    });
    // Every member's roles changed; they are not listed (a group may be large).
    if (rolesChanged) await this.deps.accounts.everyoneChanged();
    return view;
  }

  async delete(id: string, actor: Actor): Promise<void> {
    const group = await this.deps.db.transaction().execute(async (trx) => {
      const group = await this.#find(trx, id, { forUpdate: true });
      await this.deps.roles.assertMayGrantRoles(actor, group.roles, trx);
      await repo.deleteGroup(trx, id);
      await this.#audit(trx, actor, id, 'deleted', { name: group.name });
      await this.deps.accounts.assertAnAdminRemains(trx);
      return group;
    });
    // Its members lost its roles (if it had any); they are not listed.
    if (group.roles.length > 0) await this.deps.accounts.everyoneChanged();
  }

  async listMembers(
    id: string,
    page: { limit: number; cursor?: string | undefined },
  ): Promise<{ items: UserView[]; next_cursor: string | null }> {
    await this.#find(this.deps.db, id);
    const after = page.cursor ? decodeCursor(page.cursor) : undefined;
    const rows = await repo.listMemberIds(this.deps.db, id, { limit: page.limit, after });
    const { items, next_cursor } = toPage(rows, page.limit, (row) => ({
      at: row.created_at,
      id: row.user_id,
    }));
    return {
      items: await this.deps.adminUsers.viewsOf(items.map((row) => row.user_id)),
      next_cursor,
    };
  }

  /** Adds a member; `added` is false when they already were one (nothing changes then). */
  async addMember(
    id: string,
    userId: string,
    actor: Actor,
  ): Promise<{ added: boolean; user: UserView }> {
    const result = await this.deps.db.transaction().execute(async (trx) => {
      const group = await this.#find(trx, id, { forUpdate: true });
      await this.deps.roles.assertMayGrantRoles(actor, group.roles, trx);
      if (!(await this.deps.accounts.findUser(userId, trx)))
        throw new AppError('not_found', 'No such user');
      const added = await repo.addMember(trx, id, userId, this.deps.clock.now());
      if (added) await this.#audit(trx, actor, id, 'member_added', { member_id: userId }, userId);
      const [user] = await this.deps.adminUsers.viewsOf([userId], trx);
      if (!user) throw new AppError('not_found', 'No such user');
      return { added, user };
    });
    if (result.added) await this.deps.accounts.usersChanged([userId]);
    return result;
  }

  async removeMember(id: string, userId: string, actor: Actor): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const group = await this.#find(trx, id, { forUpdate: true });
      await this.deps.roles.assertMayGrantRoles(actor, group.roles, trx);
      if (!(await repo.removeMember(trx, id, userId)))
        throw new AppError('not_found', 'The user is not a member of the group');
      await this.#audit(trx, actor, id, 'member_removed', { member_id: userId }, userId);
      await this.deps.accounts.assertAnAdminRemains(trx);
    });
    await this.deps.accounts.usersChanged([userId]);
  }

  async #find(db: Db, id: string, options: { forUpdate?: boolean } = {}) {
    const group = await repo.findGroup(db, id, options);
    if (!group) throw new AppError('not_found', 'No such group');
    return group;
  }

  async #audit(
    trx: Trx,
    actor: Actor,
    groupId: string,
    action: GroupAction,
    data: Record<string, unknown>,
    userId?: string,
  ): Promise<void> {
    await this.deps.audit.record(
      {
        type: 'group.changed',
        userId: userId ?? null,
        ...auditedBy(actor, { group_id: groupId, action, ...data }),
      },
      trx,
    );
  }
}
