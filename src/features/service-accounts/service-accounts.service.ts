import type { VerifiedAccessToken } from '../../crypto/access-tokens.js';
import type { Db } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import type { AuditService } from '../audit/audit.service.js';
import * as repo from './service-accounts.repository.js';

export interface ServiceAccountsServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditService;
}

/** Machine clients (services, AI agents) that get short-lived, scoped access tokens. */
export class ServiceAccountsService {
  constructor(private readonly deps: ServiceAccountsServiceDeps) {}

  /**
   * Checks a service token against its account as it is now: a deleted account's tokens
   * stop at once, as do tokens issued before its secret was rotated. Returns the scopes the
   * token may use.
   */
  async assertTokenUsable(token: VerifiedAccessToken): Promise<string[]> {
    const account = await repo.findTokenStateByClientId(this.deps.db, token.sub);
    if (!account) throw new AppError('unauthorized', 'The service account no longer exists');
    if (account.secret_rotated_at && token.iat * 1000 < floorToSecond(account.secret_rotated_at))
      throw new AppError('unauthorized', 'The token was issued before the secret was rotated');
    const tokenScopes = (token.scope ?? '').split(' ').filter(Boolean);
    return tokenScopes.filter((scope) => account.scopes.includes(scope));
  }
}

function floorToSecond(at: Date): number {
  return Math.floor(at.getTime() / 1000) * 1000;
}
