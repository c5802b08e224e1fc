import { randomBytes } from 'node:crypto';
import { type PasswordHasher, isSupportedPasswordHash } from '../../crypto/password-hasher.js';
import type { Db } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import { EMAIL_PATTERN as EMAIL_SOURCE, normalizeEmail } from '../../lib/email.js';
import type { Clock } from '../../lib/clock.js';
import { DEFAULT_ROLE } from '../../lib/permissions.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { AuditService } from '../audit/audit.service.js';
import type { RolesService } from '../roles/roles.service.js';

/** A line that cannot be imported; the message says why, never echoing the hash. */
export class ImportRecordError extends Error {}

/** One user to import, checked. */
export interface ImportRecord {
  email: string;
  name: string | null;
  /** A bcrypt or argon2 hash from the older service; null: the user must reset a password. */
  passwordHash: string | null;
  roles: string[];
  emailVerified: boolean;
}

export type ImportOutcome = 'created' | 'exists' | 'would_create';

export interface UserImportDeps {
  db: Db;
  clock: Clock;
  audit: AuditService;
  roles: RolesService;
  hasher: PasswordHasher;
  accounts: AccountsService;
}

const EMAIL_PATTERN = new RegExp(EMAIL_SOURCE);
const NAME_MAX_LENGTH = 200;
const KNOWN_FIELDS = new Set(['email', 'name', 'password_hash', 'roles', 'email_verified']);

function readBoolean(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const text = value.trim().toLowerCase();
    if (['true', '1', 'yes'].includes(text)) return true;
    if (['false', '0', 'no'].includes(text)) return false;
  }
  throw new ImportRecordError('email_verified must be true or false');
}

function readRoles(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [DEFAULT_ROLE];
  // CSV cannot nest a list in a comma-separated field: roles are separated by ; or spaces.
  const roles =
    typeof value === 'string'
      ? value.split(/[;\s]+/)
      : Array.isArray(value) && value.every((role) => typeof role === 'string')
        ? (value as string[])
        : undefined;
  if (!roles) throw new ImportRecordError('roles must be a list of role names');
  const cleaned = [...new Set(roles.map((role) => role.trim()).filter(Boolean))].sort();
  return cleaned.length > 0 ? cleaned : [DEFAULT_ROLE];
}

/** Checks one parsed line (a JSON object, or a CSV row keyed by its header). */
export function toImportRecord(fields: Record<string, unknown>): ImportRecord {
  const unknown = Object.keys(fields).filter((key) => !KNOWN_FIELDS.has(key));
  if (unknown.length > 0) throw new ImportRecordError(`unknown field ${unknown.join(', ')}`);
  const { email, name, password_hash: passwordHash } = fields;
  if (typeof email !== 'string' || !EMAIL_PATTERN.test(email) || email.length > 254)
    throw new ImportRecordError('email is missing or not an e-mail address');
  if (name !== undefined && name !== null && typeof name !== 'string')
    throw new ImportRecordError('name must be text');
  if (typeof name === 'string' && name.length > NAME_MAX_LENGTH)
    throw new ImportRecordError(`name is longer than ${NAME_MAX_LENGTH} characters`);
  const hashGiven = passwordHash !== undefined && passwordHash !== null && passwordHash !== '';
  if (hashGiven && (typeof passwordHash !== 'string' || !isSupportedPasswordHash(passwordHash)))
    throw new ImportRecordError(
      'password_hash is not a bcrypt ($2a$, $2b$, $2y$) or argon2 (PHC) hash',
    );
  return {
    email: normalizeEmail(email),
    name: typeof name === 'string' ? name.trim() || null : null,
    passwordHash: hashGiven ? (passwordHash as string) : null,
    roles: readRoles(fields['roles']),
    emailVerified: readBoolean(fields['email_verified']),
  };
}

/**
 * Moves users of an older service over with their password hashes: they sign in with
 * their old passwords and are re-hashed to argon2id then; a user imported without a hash
 * has no usable password and sets one through "forgot password". Idempotent: an address
 * that exists is left as it is.
 */
export class UserImportService {
  constructor(private readonly deps: UserImportDeps) {}

  async importRecord(record: ImportRecord, options: { dryRun: boolean }): Promise<ImportOutcome> {
    try {
      await this.deps.roles.assertRolesExist(record.roles);
    } catch (error) {
      if (error instanceof AppError) throw new ImportRecordError(error.message);
      throw error;
    }
    if (await this.deps.accounts.emailTaken(record.email)) return 'exists';
    if (options.dryRun) return 'would_create';
    // Hashed before the transaction opens, so no connection waits on argon2.
    const passwordHash = record.passwordHash ?? (await this.#unusablePasswordHash());
    try {
      await this.deps.db.transaction().execute(async (trx) => {
        const user = await this.deps.accounts.insertAccount(trx, {
          email: record.email,
          name: record.name,
          passwordHash,
          roles: record.roles,
          emailVerified: record.emailVerified,
          now: this.deps.clock.now(),
        });
        await this.deps.audit.record(
          {
            type: 'user.signup',
            actorId: null,
            userId: user.id,
            data: { imported: true, roles: user.roles },
          },
          trx,
        );
      });
      return 'created';
    } catch (error) {
      // Another import (or a sign-up) took the address meanwhile.
      if (error instanceof AppError && error.code === 'email_taken') return 'exists';
      throw error;
    }
  }

  /**
   * For a user imported without a password: an argon2id hash of a random secret that is
   * thrown away, so no password matches it. It keeps the credentials row that a password
   * reset updates, and a sign-in attempt costs the same work as for any other account (the
   * timing does not tell which accounts have no password).
   */
  async #unusablePasswordHash(): Promise<string> {
    return this.deps.hasher.hash(randomBytes(32).toString('base64url'));
  }
}
