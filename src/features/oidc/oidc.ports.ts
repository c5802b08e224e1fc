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
  /** The client, or undefined when it is unknown or cannot be used (resolveClient says why). */
  findClient(clientId: string): Promise<OAuthClient | undefined>;
  /**
   * The client, or why there is none: the authorize endpoint tells the person whether a
   * client is unknown or its metadata document (an HTTPS client_id) could not be used.
   */
  resolveClient(clientId: string): Promise<ClientResolution>;
  /** Throws InvalidClientError (features/oauth/oauth.errors.ts) on any failure. */
  authenticateClient(input: {
    clientId: string;
    clientSecret: string | undefined;
  }): Promise<OAuthClient>;
}

export type ClientResolution =
  | { kind: 'found'; client: OAuthClient }
  | { kind: 'unknown' }
  /** A client_id URL whose metadata document could not be used; `reason` is for the person. */
  | { kind: 'refused'; reason: string };

/** The front channel only looks clients up. */
export type ClientLookup = Pick<ClientRegistry, 'findClient' | 'resolveClient'>;

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
