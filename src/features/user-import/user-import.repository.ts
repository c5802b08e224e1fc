import type { Db, Trx } from '../../db/create-db.js';
import { emailExists, insertAccount, type UserWithRoles } from '../accounts/accounts.repository.js';

export interface ImportedAccount {
  email: string;
  name: string | null;
  passwordHash: string;
  roles: readonly string[];
  emailVerified: boolean;
  now: Date;
}

/** Whether an account holds this (normalized) address already. */
export async function addressTaken(db: Db, email: string): Promise<boolean> {
  return emailExists(db, email);
}

/**
 * Inserts the user with credentials, profile and roles, exactly as a sign-up would; call
 * inside a transaction. Throws AppError `email_taken` if the address was taken meanwhile.
 */
export async function insertImportedUser(
  trx: Trx,
  account: ImportedAccount,
): Promise<UserWithRoles> {
  return insertAccount(trx, account);
}
