import { sql } from 'kysely';
import type { Db } from '../../db/create-db.js';
import type { ClientContext } from '../../lib/client.js';
import type { Clock } from '../../lib/clock.js';
import type { ClientLookup, ConsentStore } from './oidc.ports.js';
import type { OAuthClient } from './oidc.types.js';

/**
 * INTERIM, until the client registry (OAuthClientsService) and the consent store
 * (ConsentsService) of the oauth-clients feature are merged: a minimal reader of
 * `oauth_clients` and writer of `oauth_consents` behind the front channel's ports. Delete this
 * file and wire those services in services.ts instead. It audits nothing (the consent store
 * records `oauth.consent_granted`).
 */
export class InterimClientStore implements ClientLookup, ConsentStore {
  constructor(private readonly deps: { db: Db; clock: Clock }) {}

  async findClient(clientId: string): Promise<OAuthClient | undefined> {
    const row = await this.deps.db
      .selectFrom('oauth_clients')
      .select([
        'client_id',
        'name',
        'type',
        'redirect_uris',
        'post_logout_redirect_uris',
        'grant_types',
        'scopes',
        'first_party',
        'created_at',
        'secret_rotated_at',
      ])
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return row;
  }

  async findGranted(userId: string, clientId: string): Promise<string[] | undefined> {
    const row = await this.deps.db
      .selectFrom('oauth_consents')
      .select('scopes')
      .where('user_id', '=', userId)
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return row?.scopes;
  }

  async grant(userId: string, clientId: string, scopes: string[], _client: ClientContext) {
    const now = this.deps.clock.now();
    await this.deps.db
      .insertInto('oauth_consents')
      .values({ user_id: userId, client_id: clientId, scopes, granted_at: now, updated_at: now })
      .onConflict((oc) =>
        oc.columns(['user_id', 'client_id']).doUpdateSet({
          // The union of what was granted before and now, each scope once.
          scopes: sql<
            string[]
          >`array(select distinct unnest(oauth_consents.scopes || excluded.scopes))`,
          updated_at: now,
        }),
      )
      .execute();
  }
}
