import type { ClientContext } from '../../lib/client.js';
import type { OAuthClient } from './oidc.types.js';

// What the front channel needs of the client registry and the consent store (the
// oauth-clients feature: OAuthClientsService and ConsentsService), as narrow ports: the
// authorization endpoint and the pages depend on these two methods each, nothing more.

export interface ClientLookup {
  findClient(clientId: string): Promise<OAuthClient | undefined>;
}

export interface ConsentStore {
  /** The scopes the user has granted the client, if any. */
  findGranted(userId: string, clientId: string): Promise<string[] | undefined>;
  /** Adds these scopes to what the user granted the client (audited by the store). */
  grant(
    userId: string,
    clientId: string,
    scopes: string[],
    client: ClientContext,
  ): Promise<unknown>;
}
