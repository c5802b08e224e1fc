import type { Db } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import { decodeKeyCursor, encodeKeyCursor } from '../../lib/cursor.js';
import { type Actor, assertMayGrant, auditedBy } from '../../lib/actor.js';
import { ADMIN_ROLE } from '../../lib/permissions.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { AuditService } from '../audit/audit.service.js';
import * as repo from './roles.repository.js';
import type { CreateRole, RoleView, UpdateRole } from './roles.schemas.js';

export interface RolesServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditService;
  /** Told when a role's holders lose it (a deletion): their roles are shown by GET /me. */
  accounts: Pick<AccountsService, 'everyoneChanged'>;
}

function toRoleView(role: repo.RoleRecord): RoleView {
  return {
    name: role.name,
    description: role.description,
    permissions: role.permissions,
    built_in: role.built_in,
  };
}

/** Sorted and without repeats, so a role's permissions compare and display predictably. */
function normalizePermissions(permissions: readonly string[]): string[] {
  return [...new Set(permissions)].sort();
}

/** Roles and the permissions they grant; `admin` and `user` are built in. */
export class RolesService {
  constructor(private readonly deps: RolesServiceDeps) {}

  async list(page: { limit: number; cursor?: string | undefined }) {
    const after = page.cursor !== undefined ? decodeKeyCursor(page.cursor) : undefined;
    const rows = await repo.listRoles(this.deps.db, { limit: page.limit, after });
    const items = rows.slice(0, page.limit);
    const last = items[items.length - 1];
    return {
      items: items.map(toRoleView),
      next_cursor: rows.length > page.limit && last ? encodeKeyCursor(last.name) : null,
    };
  }

  /** Refuses (400, field `roles`) a list naming a role that does not exist. */
  async assertRolesExist(roles: readonly string[], db: Db = this.deps.db): Promise<void> {
    const existing = await repo.findExistingRoleNames(db, roles);
    const unknown = roles.filter((role) => !existing.includes(role));
    if (unknown.length > 0)
      throw new AppError('validation_failed', `No such role: ${unknown.join(', ')}`, [
        { field: 'roles', message: `unknown role ${unknown.join(', ')}` },
      ]);
  }

  /** Refuses (403) an actor granting roles whose permissions they do not hold. */
  async assertMayGrantRoles(
    actor: Actor,
    roles: readonly string[],
    db: Db = this.deps.db,
  ): Promise<void> {
    assertMayGrant(actor, await repo.findPermissionsOfRoles(db, roles));
  }

  async get(name: string): Promise<RoleView> {
    const role = await repo.findRole(this.deps.db, name);
    if (!role) throw new AppError('not_found', 'No such role');
    return toRoleView(role);
  }

  async create(input: CreateRole, actor: Actor): Promise<RoleView> {
    const permissions = normalizePermissions(input.permissions ?? []);
    assertMayGrant(actor, permissions);
    return this.deps.db.transaction().execute(async (trx) => {
      const role = await repo.insertRole(trx, {
        name: input.name,
        description: input.description?.trim() ?? '',
        permissions,
        now: this.deps.clock.now(),
      });
      await this.deps.audit.record(
        {
          type: 'role.created',
          ...auditedBy(actor, { name: role.name, permissions: role.permissions }),
        },
        trx,
      );
      return toRoleView(role);
    });
  }

  async update(name: string, input: UpdateRole, actor: Actor): Promise<RoleView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const current = await repo.findRole(trx, name, { forUpdate: true });
      if (!current) throw new AppError('not_found', 'No such role');
      // Changing a role changes what its holders may do: only within what the actor holds.
      assertMayGrant(actor, [...current.permissions, ...(input.permissions ?? [])]);
      const permissions =
        input.permissions !== undefined ? normalizePermissions(input.permissions) : undefined;
      if (
        name === ADMIN_ROLE &&
        permissions !== undefined &&
        permissions.join(' ') !== current.permissions.join(' ')
      )
        throw new AppError('conflict', 'The admin role always holds every permission');
      const role = await repo.updateRole(trx, name, {
        ...(input.description !== undefined ? { description: input.description.trim() } : {}),
        ...(permissions !== undefined ? { permissions } : {}),
        updated_at: this.deps.clock.now(),
      });
      await this.deps.audit.record(
        {
          type: 'role.updated',
          ...auditedBy(actor, {
            name,
            changed: Object.keys(input).filter(
              (key) => input[key as keyof UpdateRole] !== undefined,
            ),
            ...(permissions !== undefined
              ? { permissions_before: current.permissions, permissions }
              : {}),
          }),
        },
        trx,
      );
      return toRoleView(role);
    });
  }

  /** Users and groups lose the role with it; built-in roles stay. */
  async delete(name: string, actor: Actor): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const role = await repo.findRole(trx, name, { forUpdate: true });
      if (!role) throw new AppError('not_found', 'No such role');
      assertMayGrant(actor, role.permissions);
      if (role.built_in)
        throw new AppError('conflict', `The built-in role ${name} cannot be deleted`);
      await repo.deleteRole(trx, name);
      await this.deps.audit.record({ type: 'role.deleted', ...auditedBy(actor, { name }) }, trx);
    });
    // Its holders, directly or through a group, are not listed.
    await this.deps.accounts.everyoneChanged();
  }
}
