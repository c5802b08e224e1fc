import type { Db } from '../../db/create-db.js';
import { type Actor, auditedBy } from '../../lib/actor.js';
import { AppError } from '../../errors.js';
import type { ClientContext } from '../../lib/client.js';
import type { AuditService } from '../audit/audit.service.js';
import type { MailService } from '../mail/mail.service.js';
import type { FailureCounter } from '../rate-limit/counted-attempt.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import type { AccountsService } from './accounts.service.js';

export interface AccountDeletionDeps {
  db: Db;
  accounts: AccountsService;
  sessions: SessionsService;
  audit: AuditService;
  mail: MailService;
  failures: FailureCounter;
}

/**
 * Deletes an account for good: the user, their credentials, profile, roles, sessions and
 * tokens (by cascade), mail still addressed to them, and the personal data (address, user
 * agent) in their audit events — which keep only the user id.
 */
export class AccountDeletionService {
  constructor(private readonly deps: AccountDeletionDeps) {}

  async deleteOwnAccount(userId: string, password: string, client: ClientContext): Promise<void> {
    const { accounts, audit, db, failures, mail, sessions } = this.deps;
    const user = await accounts.getUser(userId);
    const right = await failures.verify(user.email, client, () =>
      accounts.verifyPasswordOf(user.id, password),
    );
    if (!right) {
      throw new AppError('wrong_password', 'The password is wrong', [
        { field: 'password', message: 'is wrong' },
      ]);
    }
    await accounts.assertNotLastAdmin(user);
    // Revoked first, so the user's access tokens stop on every instance the moment the
    // account is gone; the rows themselves go with the user.
    await sessions.revokeAllForUser(user.id, 'account_deleted');
    await db.transaction().execute(async (trx) => {
      await accounts.deleteUser(trx, user.id);
      await mail.forgetRecipient(trx, user.email);
      await audit.forgetPersonalData(trx, user.id);
      // No address or user agent: the event says only that this id deleted itself.
      await audit.record({ type: 'user.deleted', actorId: user.id, userId: user.id }, trx);
    });
    await accounts.usersChanged([user.id]);
  }

  /**
   * An admin (or the operator, with no actor) deletes an account: no password, the same
   * erasure, and never the last active admin.
   */
  async deleteByAdmin(userId: string, actor: Actor): Promise<void> {
    const { accounts, audit, db, mail, sessions } = this.deps;
    const user = await accounts.getUser(userId);
    await accounts.assertNotLastAdmin(user);
    const revoked = await db.transaction().execute(async (trx) => {
      // Revoked before the rows go with the user, so other instances can be told which.
      const ids = await sessions.revokeAllForUserWithin(trx, user.id, 'account_deleted');
      await accounts.deleteUser(trx, user.id);
      await mail.forgetRecipient(trx, user.email);
      await audit.forgetPersonalData(trx, user.id);
      await audit.record({ type: 'user.deleted', userId: user.id, ...auditedBy(actor) }, trx);
      await accounts.assertAnAdminRemains(trx);
      return ids;
    });
    await sessions.announceRevoked(revoked);
    await accounts.usersChanged([user.id]);
  }
}
