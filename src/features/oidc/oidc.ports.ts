import type { ClientContext } from '../../lib/client.js';
import type { OAuthClient, ProtectedResource } from './oidc.types.js';

// What the provider needs of the client registry and the consent store (the oauth-clients
// feature: OAuthClientsService and ConsentsService), as narrow ports: the token endpoint
// authenticates clients, the front channel looks them up and reads and records consent.

/**
 * What the provider asks of the client registry (the oauth-clients feature): the token side
 * authenticates clients, the front channel looks them up.
 */
export interface ClientRegistry {
  findClient(clientId: string): Promise<OAuthClient | undefined>;
  /** Throws InvalidClientError (features/oauth/oauth.errors.ts) on any failure. */
  authenticateClient(input: {
    clientId: string;
    clientSecret: string | undefined;
  }): Promise<OAuthClient>;
}

/** The front channel only looks clients up. */
export type ClientLookup = Pick<ClientRegistry, 'findClient'>;

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

/** The protected APIs (the resources feature), by identifier. */
export interface ResourceLookup {
  findResource(identifier: string): Promise<ProtectedResource | undefined>;
}
