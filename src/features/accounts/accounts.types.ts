import type { UserRow } from '../../db/database.js';

/**
 * A user with their effective roles (direct and through groups), as the accounts feature
 * hands it to other features. It lives apart from the repository so that they can name it
 * without importing accounts' SQL.
 */
export interface UserWithRoles extends UserRow {
  roles: string[];
}

/** What an admin's user search filters on. */
export interface UserFilter {
  q?: string | undefined;
  role?: string | undefined;
  active?: boolean | undefined;
}

/** The fields of a user an admin may change (never the e-mail or a credential). */
export interface AdminUserFields {
  name?: string | null;
  is_active?: boolean;
  email_verified?: boolean;
  updated_at: Date;
}
