import type { Config } from '../../config/config.js';
import type { PasswordHasher } from '../../crypto/password-hasher.js';
import { checkPasswordPolicy } from '../../crypto/password-policy.js';
import type { Db, Trx } from '../../db/create-db.js';
import type { ClientContext } from '../../lib/client.js';
import type { UserRow } from '../../db/database.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import type { KeysetCursor } from '../../lib/cursor.js';
import { normalizeEmail } from '../../lib/email.js';
import { ADMIN_ROLE, DEFAULT_ROLE } from '../../lib/permissions.js';
import type { AuditService } from '../audit/audit.service.js';
import type { ProfileService } from '../profile/profile.service.js';
import * as repo from './accounts.repository.js';
import * as userRoles from './user-roles.repository.js';
import type { AdminUserFields, UserFilter, UserWithRoles } from './accounts.types.js';
import type { UserViewCache } from './user-view-cache.js';

export interface SignUpInput {
  email: string;
  password: string;
  name?: string | undefined;
}

export interface AccountsServiceDeps {
  db: Db;
  clock: Clock;
  hasher: PasswordHasher;
  audit: AuditService;
  /** Owns the `profiles` table: every new account gets an empty profile. */
  profiles: ProfileService;
  config: Pick<Config, 'passwordRequireClasses'>;
  /** Users with their roles as GET /me shows them, kept current through Redis (or not used). */
  userViews: UserViewCache;
}

/** Runs inside the sign-up transaction (the composition root uses it to send verification mail). */
export type AccountCreatedHook = (trx: Trx, user: UserWithRoles) => Promise<void>;

export class AccountsService {
  #onAccountCreated: AccountCreatedHook | undefined;

  constructor(private readonly deps: AccountsServiceDeps) {}

  /** Registers work that must commit with every new account. */
  onAccountCreated(hook: AccountCreatedHook): void {
    this.#onAccountCreated = hook;
  }

  /** Refuses a password the policy rejects, with every reason, as `weak_password`. */
  assertPasswordAcceptable(password: string, email: string): void {
    const errors = checkPasswordPolicy(password, email, {
      requireClasses: this.deps.config.passwordRequireClasses,
    });
    if (errors.length > 0)
      throw new AppError('weak_password', 'The password does not meet the policy', errors);
  }

  async signUp(input: SignUpInput, client?: ClientContext): Promise<UserWithRoles> {
    return this.createAccount(input, {
      roles: [DEFAULT_ROLE],
      emailVerified: false,
      client,
    });
  }

  /**
   * Creates a user with a hashed password. The hash is computed before the transaction,
   * so no connection is held while argon2 works.
   */
  async createAccount(
    input: SignUpInput,
    options: {
      roles: readonly string[];
      emailVerified: boolean;
      client?: ClientContext | undefined;
    },
  ): Promise<UserWithRoles> {
    const email = normalizeEmail(input.email);
    this.assertPasswordAcceptable(input.password, email);
    // Cheap early answer for the common case; the unique index still settles races.
    if (await repo.emailExists(this.deps.db, email)) throw new AppError('email_taken');
    const passwordHash = await this.deps.hasher.hash(input.password);
    const name = input.name?.trim() || null;
    return this.deps.db.transaction().execute(async (trx) => {
      const user = await this.#insertAccount(trx, {
        email,
        name,
        passwordHash,
        roles: options.roles,
        emailVerified: options.emailVerified,
        now: this.deps.clock.now(),
      });
      await this.deps.audit.record(
        {
          type: 'user.signup',
          actorId: user.id,
          userId: user.id,
          ...options.client,
          data: { roles: user.roles },
        },
        trx,
      );
      await this.#onAccountCreated?.(trx, user);
      return user;
    });
  }

  async getUser(userId: string): Promise<UserWithRoles> {
    const user = await repo.findUserById(this.deps.db, userId);
    if (!user) throw new AppError('not_found', 'No such user');
    return user;
  }

  /** One indexed lookup, whether or not the address exists (no roles: see findUser). */
  async findUserByEmail(email: string): Promise<UserRow | undefined> {
    return repo.findUserRowByEmail(this.deps.db, normalizeEmail(email));
  }

  /**
   * The user and their roles for GET /me: from this instance's cache while Redis delivers
   * changes, from the database otherwise. Not for a decision inside a transaction (findUser).
   */
  async findUserView(userId: string): Promise<UserWithRoles | undefined> {
    return this.deps.userViews.find(userId);
  }

  /**
   * Every change to a user's row or effective roles (what GET /me shows) ends with this,
   * once its transaction has committed — not before, or another instance could re-read and
   * keep the old row — and is awaited before the answer, so that every instance shows the
   * change to a client that got the answer.
   */
  async usersChanged(userIds: readonly string[]): Promise<void> {
    await this.deps.userViews.changed(userIds);
  }

  /** As usersChanged, for a change whose users are not listed (a role deleted, say). */
  async everyoneChanged(): Promise<void> {
    await this.deps.userViews.everyoneChanged();
  }

  /** Pass the caller's transaction when inside one (PGlite has a single connection). */
  async findUser(userId: string, db: Db = this.deps.db): Promise<UserWithRoles | undefined> {
    return repo.findUserById(db, userId);
  }

  async roleNamesOf(userId: string): Promise<string[]> {
    return userRoles.findRoleNamesForUser(this.deps.db, userId);
  }

  /**
   * Checks a password for an e-mail address. An unknown address costs the same hashing
   * work as a wrong password, so neither the answer nor its timing says which it was.
   * A hash in an older form (bcrypt, weaker argon2) is replaced after a success.
   */
  async checkPassword(email: string, password: string): Promise<UserWithRoles | undefined> {
    return this.#checkPasswordOf({ email: normalizeEmail(email) }, password);
  }

  /**
   * The one password check: an absent account costs a dummy verification, and a hash in an
   * older form is upgraded after a success, whichever way the account was found.
   */
  async #checkPasswordOf(
    by: { email: string } | { userId: string },
    password: string,
  ): Promise<UserWithRoles | undefined> {
    const found = await repo.findUserWithPasswordHash(this.deps.db, by);
    if (!found) {
      await this.deps.hasher.verifyDummy(password);
      return undefined;
    }
    const check = await this.deps.hasher.verify(found.passwordHash, password);
    if (!check.ok) return undefined;
    if (check.needsRehash) {
      const upgraded = await this.deps.hasher.hash(password);
      await repo.updatePasswordHash(this.deps.db, found.user.id, upgraded, this.deps.clock.now());
    }
    return found.user;
  }

  /**
   * Pass a transaction to make it part of the sign-in it records; then usersChanged once
   * it has committed.
   */
  async recordSignIn(userId: string, at: Date, db: Db = this.deps.db): Promise<void> {
    await repo.updateLastSignIn(db, userId, at);
  }

  async adminExists(): Promise<boolean> {
    return userRoles.roleHasMembers(this.deps.db, ADMIN_ROLE);
  }

  /** Creates a verified admin account (bootstrap and the operator CLI). */
  async createAdmin(input: SignUpInput): Promise<UserWithRoles> {
    return this.createAccount(input, { roles: [ADMIN_ROLE, DEFAULT_ROLE], emailVerified: true });
  }

  /** Checks the password of a signed-in user (password change, account deletion). */
  async verifyPasswordOf(userId: string, password: string): Promise<boolean> {
    return (await this.#checkPasswordOf({ userId }, password)) !== undefined;
  }

  /** Policy check and argon2 hash of a new password: done before any transaction opens. */
  async hashNewPassword(password: string, email: string): Promise<string> {
    this.assertPasswordAcceptable(password, email);
    return this.deps.hasher.hash(password);
  }

  async storePasswordHash(db: Db, userId: string, passwordHash: string): Promise<void> {
    await repo.updatePasswordHash(db, userId, passwordHash, this.deps.clock.now());
  }

  /** Then usersChanged once the transaction has committed. */
  async markEmailVerified(db: Db, userId: string): Promise<void> {
    await repo.markEmailVerified(db, userId, this.deps.clock.now());
  }

  /** Refuses to remove the last active admin (deletion, deactivation, demotion). */
  async assertNotLastAdmin(user: UserWithRoles, db: Db = this.deps.db): Promise<void> {
    if (!user.roles.includes(ADMIN_ROLE) || !user.is_active) return;
    if ((await userRoles.countOtherActiveMembers(db, ADMIN_ROLE, user.id)) === 0) {
      throw new AppError('conflict', 'The last active admin cannot be removed');
    }
  }

  /**
   * Call at the end of a transaction that may take the admin role from someone (a user
   * patched, deleted or removed from a group; a group's roles changed or the group deleted):
   * it waits for any concurrent such change to commit, then refuses — rolling back — if no
   * active admin would be left.
   */
  async assertAnAdminRemains(trx: Trx): Promise<void> {
    await userRoles.lockAdminChanges(trx);
    if (!(await userRoles.roleHasMembers(trx, ADMIN_ROLE))) {
      throw new AppError('conflict', 'The last active admin cannot be removed');
    }
  }

  /** Effective roles and the permissions they grant, read fresh (not from the token). */
  async authorizationOf(
    userId: string,
  ): Promise<{ roles: string[]; permissions: string[]; mfaEnabled: boolean }> {
    return userRoles.findRolePermissionsForUser(this.deps.db, userId);
  }

  /** Then usersChanged once the transaction has committed. */
  async deleteUser(db: Db, userId: string): Promise<boolean> {
    return repo.deleteUser(db, userId);
  }

  /** Whether an account holds this address already (one indexed lookup). */
  async emailTaken(email: string): Promise<boolean> {
    return repo.emailExists(this.deps.db, normalizeEmail(email));
  }

  /**
   * Inserts an account whose password hash the caller brings (a user import) — with
   * credentials, profile and roles, as a sign-up would — but with no policy check, hashing,
   * audit event or account-created hook: the caller records its own event in `trx`. Throws
   * `email_taken` if the (normalized) address was taken meanwhile.
   */
  async insertAccount(trx: Trx, account: repo.NewAccount): Promise<UserWithRoles> {
    return this.#insertAccount(trx, account);
  }

  /** The user, their credentials and roles, and their empty profile. */
  async #insertAccount(trx: Trx, account: repo.NewAccount): Promise<UserWithRoles> {
    const user = await repo.insertAccount(trx, account);
    await this.deps.profiles.createEmptyProfile(trx, user.id, account.now);
    return user;
  }

  /**
   * MFA turns on or off in the transaction that changes the user's factors; usersChanged
   * once it has committed.
   */
  async setMfaEnabled(trx: Trx, userId: string, enabled: boolean): Promise<void> {
    await repo.setMfaEnabled(trx, userId, enabled, this.deps.clock.now());
  }

  /** Users matching an admin's search, newest first, a keyset page at a time (no roles). */
  async listUsers(
    filter: UserFilter,
    page: { limit: number; after?: KeysetCursor | undefined },
  ): Promise<UserRow[]> {
    return repo.listUsers(this.deps.db, filter, page);
  }

  /** Users with these ids, in no particular order (no roles); missing ids are skipped. */
  async findUsersByIds(userIds: readonly string[], db: Db = this.deps.db): Promise<UserRow[]> {
    return repo.findUsersByIds(db, userIds);
  }

  /** Effective roles of many users in one query, sorted; pass the caller's transaction if any. */
  async rolesOfUsers(
    userIds: readonly string[],
    db: Db = this.deps.db,
  ): Promise<Map<string, string[]>> {
    return userRoles.findRolesOfUsers(db, userIds);
  }

  /**
   * The user can sign in with a password, or get one by a reset: they hold a password
   * credential (whose hash no query but the password check reads).
   */
  async hasPassword(userId: string, db: Db = this.deps.db): Promise<boolean> {
    return repo.hasPasswordCredential(db, userId);
  }

  /** Locks the user's row for the rest of the transaction; false if there is no such user. */
  async lockUser(trx: Trx, userId: string): Promise<boolean> {
    return repo.lockUser(trx, userId);
  }

  /**
   * An admin's change of a user's fields, in the transaction that audits it and ends with
   * assertAnAdminRemains (a deactivation can take the last admin away); usersChanged once it
   * has committed.
   */
  async updateUser(trx: Trx, userId: string, fields: AdminUserFields): Promise<void> {
    await repo.updateUser(trx, userId, fields);
  }

  /** The roles granted to the user directly (not through groups), sorted. */
  async directRolesOf(trx: Trx, userId: string): Promise<string[]> {
    return userRoles.findDirectRoles(trx, userId);
  }

  /**
   * Grants roles directly; inside the transaction that ends with assertAnAdminRemains, and
   * usersChanged once it has committed.
   */
  async addDirectRoles(trx: Trx, userId: string, roles: readonly string[]): Promise<void> {
    await userRoles.addDirectRoles(trx, userId, roles);
  }

  /**
   * Takes direct roles away; inside the transaction that ends with assertAnAdminRemains, and
   * usersChanged once it has committed.
   */
  async removeDirectRoles(trx: Trx, userId: string, roles: readonly string[]): Promise<void> {
    await userRoles.removeDirectRoles(trx, userId, roles);
  }
}
