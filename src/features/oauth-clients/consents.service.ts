import type { Db } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import type { ClientContext } from '../../lib/client.js';
import type { Clock } from '../../lib/clock.js';
import type { AuditService } from '../audit/audit.service.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import * as repo from './consents.repository.js';
import { lockClientShared } from './oauth-clients.repository.js';
import type { ConsentView } from './oauth-clients.schemas.js';

export interface ConsentsServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditService;
  /** Ends a client's grants when the user withdraws consent. */
  sessions: Pick<SessionsService, 'revokeClientGrants'>;
}

/**
 * What each user has allowed each client (per scope), remembered so the consent page is
 * asked once, and withdrawn by the user at any time.
 */
export class ConsentsService {
  constructor(private readonly deps: ConsentsServiceDeps) {}

  /** The scopes the user has granted the client, or undefined when they never consented. */
  async findGranted(userId: string, clientId: string): Promise<string[] | undefined> {
    return repo.findConsentScopes(this.deps.db, userId, clientId);
  }

  /**
   * Records the user's consent to these scopes, added to what they granted before. Returns
   * every scope now granted. 404 if the client does not exist (or is being deleted).
   */
  async grant(
    userId: string,
    clientId: string,
    scopes: readonly string[],
    client: ClientContext,
  ): Promise<string[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      if (!(await lockClientShared(trx, clientId)))
        throw new AppError('not_found', 'No such client');
      const granted = await repo.addConsentScopes(trx, {
        userId,
        clientId,
        scopes: [...scopes],
        now: this.deps.clock.now(),
      });
      await this.deps.audit.record(
        {
          type: 'oauth.consent_granted',
          actorId: userId,
          userId,
          ...client,
          data: { client_id: clientId, scopes: [...new Set(scopes)].sort(), granted },
        },
        trx,
      );
      return granted;
    });
  }

  /** The user's consents, newest first; one per client, so a single page. */
  async list(userId: string): Promise<{ items: ConsentView[]; next_cursor: null }> {
    const rows = await repo.listConsents(this.deps.db, userId);
    return {
      items: rows.map((row) => ({
        client_id: row.client_id,
        client_name: row.client_name,
        scopes: row.scopes,
        granted_at: row.granted_at.toISOString(),
      })),
      next_cursor: null,
    };
  }

  /**
   * Withdraws the consent and ends the client's grants for the user: its access and refresh
   * tokens stop at once, on every instance. 404 if there was nothing to withdraw.
   */
  async revoke(userId: string, clientId: string, client: ClientContext): Promise<void> {
    const withdrawn = await repo.deleteConsent(this.deps.db, userId, clientId);
    // Even when no consent was found: a first-party client (which never asks consent) is not
    // left holding tokens the user asked to end, and a retry after a failure right here still
    // ends the grants.
    const revoked = await this.deps.sessions.revokeClientGrants(
      userId,
      clientId,
      'consent_revoked',
    );
    if (!withdrawn && revoked.length === 0)
      throw new AppError('not_found', 'No consent or grant for this client');
    await this.deps.audit.record({
      type: 'oauth.consent_revoked',
      actorId: userId,
      userId,
      ...client,
      data: { client_id: clientId, scopes: withdrawn ?? [], session_ids: revoked },
    });
  }
}
