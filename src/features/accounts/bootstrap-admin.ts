import { AppError } from '../../errors.js';
import { normalizeEmail } from '../../lib/email.js';
import type { AccountsService } from './accounts.service.js';

export type BootstrapResult = 'admin-exists' | 'created';

export class BootstrapError extends Error {}

/**
 * At start: if no active admin exists, create one from ADMIN_EMAIL / ADMIN_PASSWORD.
 * An address already taken by an ordinary account is refused rather than promoted:
 * whoever signed up with it first must not become the admin.
 */
export async function ensureBootstrapAdmin(
  accounts: AccountsService,
  admin: { email: string; password: string },
): Promise<BootstrapResult> {
  if (await accounts.adminExists()) return 'admin-exists';
  try {
    await accounts.createAdmin({
      email: admin.email,
      password: admin.password,
      name: 'Administrator',
    });
    return 'created';
  } catch (error) {
    if (error instanceof AppError && error.code === 'email_taken') {
      // Another instance may have created it a moment ago.
      if (await accounts.adminExists()) return 'admin-exists';
      throw new BootstrapError(
        `ADMIN_EMAIL: ${normalizeEmail(admin.email)} belongs to an account that is not an admin`,
      );
    }
    if (error instanceof AppError && error.code === 'weak_password') {
      const reasons = (error.fieldErrors ?? []).map((e) => e.message).join('; ');
      throw new BootstrapError(`ADMIN_PASSWORD: ${reasons}`);
    }
    throw error;
  }
}
