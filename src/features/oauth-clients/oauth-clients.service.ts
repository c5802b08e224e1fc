import { randomBytes, timingSafeEqual } from 'node:crypto';
import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db, Trx } from '../../db/create-db.js';
import { AppError, type FieldError } from '../../errors.js';
import { type Actor, auditedBy } from '../../lib/actor.js';
import type { ClientContext } from '../../lib/client.js';
import { addSeconds, type Clock } from '../../lib/clock.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import { setBounded } from '../../lib/bounded-map.js';
import { OutboundFetchError, type OutboundFetcher } from '../../lib/outbound-fetch.js';
import type { AuditService } from '../audit/audit.service.js';
import { InvalidClientError } from '../oauth/oauth.errors.js';
import type { ClientResolution } from '../oidc/oidc.ports.js';
import { CLIENT_GRANT_TYPES, OIDC_SCOPES, type OAuthClient } from '../oidc/oidc.types.js';
import type { ResourcesService } from '../resources/resources.service.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import { deleteClientConsents } from './consents.repository.js';
import * as repo from './oauth-clients.repository.js';
import {
  type CreateOAuthClient,
  type OAuthClientView,
  type OAuthClientWithSecret,
  type UpdateOAuthClient,
  isClientId,
} from './oauth-clients.schemas.js';
import { redirectUriProblem } from './redirect-uris.js';
import {
  type RegistrationPolicy,
  type RegistrationRequest,
  type RegistrationResponse,
  checkRegistration,
} from './dynamic-registration.js';
import {
  type CheckedDocument,
  ClientMetadataError,
  FETCH_TIMEOUT_MS,
  MAX_DOCUMENT_BYTES,
  cacheSeconds,
  checkMetadataDocument,
  clientIdUrlProblem,
  isClientIdUrl,
} from './client-metadata-document.js';

export interface OAuthClientsServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditService;
  /** Ends a deleted client's grants, so its tokens stop at once on every instance. */
  sessions: Pick<SessionsService, 'revokeClientGrants'>;
  /**
   * The protected APIs' scopes: what a dynamic registration may name, and what an admin's
   * client scopes beyond the OpenID ones must be.
   */
  resources: Pick<ResourcesService, 'scopeNames'>;
  /** Client ID metadata documents (OAUTH_CIMD); off: HTTPS client_ids are unknown clients. */
  metadataDocuments: { enabled: boolean; fetcher: OutboundFetcher };
}

export const DEFAULT_GRANT_TYPES = ['authorization_code', 'refresh_token'];
export const DEFAULT_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

// Recognisable in a leaked-secret scan, like the service accounts' `hsas_`.
const SECRET_PREFIX = 'hcs_';
const CLIENT_ID_PREFIX = 'hc_';
// Compared against when the client is unknown (or public), so every failure costs the same
// work as a wrong secret and timing does not tell which client ids exist.
const ABSENT_SECRET_HASH = hashOpaqueToken('absent');
// How long a self-registered client may go without any authorization before it is deleted.
// Registering is free and anonymous, so the registry must not keep what nobody uses; MCP
// clients register right before they authorize, and register again if told invalid_client.
export const UNUSED_DYNAMIC_CLIENT_SECONDS = 24 * 60 * 60;
// A metadata document that could not be used is not fetched again for this long: a flood of
// authorize requests naming one bad URL is one fetch, not a flood of fetches from us.
export const FAILED_DOCUMENT_SECONDS = 30;
const MAX_REMEMBERED_FAILURES = 1000;
// Anybody can send /oauth/authorize a new URL to fetch; this many fetches at once, then the
// next is refused at once rather than queued, so a burst cannot tie up sockets and time.
export const MAX_CONCURRENT_DOCUMENT_FETCHES = 16;

type ClientEvent =
  'oauth.client_created' | 'oauth.client_updated' | 'oauth.client_rotated' | 'oauth.client_deleted';

export function toClientView(client: OAuthClient): OAuthClientView {
  return {
    client_id: client.client_id,
    name: client.name,
    type: client.type,
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris: client.post_logout_redirect_uris,
    grant_types: client.grant_types,
    scopes: client.scopes,
    first_party: client.first_party,
    created_at: client.created_at.toISOString(),
    secret_rotated_at: client.secret_rotated_at?.toISOString() ?? null,
    registration: client.registration,
  };
}

/** Whether a refetched document changed what the registry holds (worth an audit event). */
function changedByDocument(before: OAuthClient, after: OAuthClient): boolean {
  const same = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && a.every((value, i) => value === b[i]);
  return (
    before.name !== after.name ||
    !same(before.redirect_uris, after.redirect_uris) ||
    !same(before.post_logout_redirect_uris, after.post_logout_redirect_uris) ||
    !same(before.grant_types, after.grant_types) ||
    !same(before.scopes, after.scopes)
  );
}

function newSecret(): { secret: string; hash: string } {
  const secret = SECRET_PREFIX + generateOpaqueToken();
  return { secret, hash: hashOpaqueToken(secret) };
}

function sameHash(a: string, b: string): boolean {
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

/** Drops duplicates and puts the values in the order of `known` (a stable, readable list). */
function inOrderOf(known: readonly string[], values: readonly string[]): string[] {
  return known.filter((value) => values.includes(value));
}

/** Checks every URI of a list; the field errors name the index that failed. */
function checkUris(field: string, uris: readonly string[]): string[] {
  const errors: FieldError[] = [];
  uris.forEach((uri, i) => {
    const problem = redirectUriProblem(uri);
    if (problem) errors.push({ field: `${field}.${i}`, message: problem });
  });
  if (errors.length > 0)
    throw new AppError('validation_failed', 'A redirect URI may not be registered', errors);
  return [...new Set(uris)];
}

/**
 * A client that may use the authorization code flow needs somewhere to be sent back to; one
 * that only polls (the device grant: a CLI, a headless agent) needs none.
 */
function requireRedirectUris(grantTypes: readonly string[], redirectUris: readonly string[]): void {
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0)
    throw new AppError(
      'validation_failed',
      'A client of the authorization code flow needs a redirect URI',
      [
        {
          field: 'redirect_uris',
          message: 'must list at least one URI for the authorization_code grant',
        },
      ],
    );
}

/**
 * The registry of OAuth / OpenID Connect clients: the admin API's rules, and the lookups the
 * authorization and token endpoints make.
 */
export class OAuthClientsService {
  // Metadata documents that failed lately (url → until when, and why), and fetches under way
  // (one per URL however many requests wait on it).
  readonly #failedDocuments = new Map<string, { until: number; reason: string }>();
  readonly #fetching = new Map<string, Promise<ClientResolution>>();

  constructor(private readonly deps: OAuthClientsServiceDeps) {}

  /** The client as registered (or as its metadata document reads), or undefined; never its secret. */
  async findClient(clientId: string): Promise<OAuthClient | undefined> {
    const resolved = await this.resolveClient(clientId);
    return resolved.kind === 'found' ? resolved.client : undefined;
  }

  /**
   * Whether the operator trusts the client (consent skipped). Read from the registry as it
   * stands, never fetching: bearer-token checks ask this on every request, and a client made
   * from a metadata document is never first-party anyway.
   */
  async isFirstParty(clientId: string): Promise<boolean> {
    if (isClientIdUrl(clientId)) return false;
    return (await repo.findClient(this.deps.db, clientId))?.first_party === true;
  }

  /**
   * The client, or why there is none. An HTTPS client_id names a metadata document: the copy
   * stored in the registry is used while fresh (its HTTP caching, within limits), and fetched
   * again once stale. A fetch that fails, or a document that is no longer valid, refuses the
   * client rather than leaning on the stale copy: the stale copy's redirect URIs are exactly
   * what the client may have withdrawn.
   */
  async resolveClient(clientId: string): Promise<ClientResolution> {
    if (!isClientIdUrl(clientId)) {
      const client = await repo.findClient(this.deps.db, clientId);
      return client ? { kind: 'found', client } : { kind: 'unknown' };
    }
    if (!this.deps.metadataDocuments.enabled) return { kind: 'unknown' };
    const problem = clientIdUrlProblem(clientId);
    if (problem) return { kind: 'refused', reason: `the client_id URL ${problem}` };
    const stored = await repo.findClientWithExpiry(this.deps.db, clientId);
    const now = this.deps.clock.now();
    if (stored && stored.metadata_expires_at !== null && stored.metadata_expires_at > now) {
      const { metadata_expires_at: _expiry, ...client } = stored;
      return { kind: 'found', client };
    }
    const failed = this.#failedDocuments.get(clientId);
    if (failed && failed.until > now.getTime()) return { kind: 'refused', reason: failed.reason };
    const pending = this.#fetching.get(clientId);
    if (pending) return pending;
    if (this.#fetching.size >= MAX_CONCURRENT_DOCUMENT_FETCHES)
      return {
        kind: 'refused',
        reason: 'too many metadata documents are being fetched right now; try again shortly',
      };
    const fetching = this.#fetchDocument(clientId).finally(() => this.#fetching.delete(clientId));
    this.#fetching.set(clientId, fetching);
    return fetching;
  }

  /** Fetches and checks the document; throws OutboundFetchError or ClientMetadataError. */
  async #readDocument(clientId: string): Promise<{ document: CheckedDocument; seconds: number }> {
    const response = await this.deps.metadataDocuments.fetcher.get(clientId, {
      maxBytes: MAX_DOCUMENT_BYTES,
      timeoutMs: FETCH_TIMEOUT_MS,
      accept: 'application/json',
      contentTypes: ['application/json'],
    });
    // The draft: only a 200 counts (and the fetcher follows no redirect).
    if (response.status !== 200)
      throw new ClientMetadataError(`answered ${response.status}, not 200`);
    return {
      document: checkMetadataDocument(clientId, response.body),
      seconds: cacheSeconds(response.headers, this.deps.clock.now()),
    };
  }

  /** Fetches the document and stores the client as it reads, or says why it cannot be used. */
  async #fetchDocument(clientId: string): Promise<ClientResolution> {
    let read: { document: CheckedDocument; seconds: number };
    try {
      read = await this.#readDocument(clientId);
    } catch (error) {
      if (!(error instanceof OutboundFetchError || error instanceof ClientMetadataError))
        throw error;
      const reason = `the metadata document at ${clientId} cannot be used: ${error.message}`;
      setBounded(
        this.#failedDocuments,
        clientId,
        { until: this.deps.clock.now().getTime() + FAILED_DOCUMENT_SECONDS * 1000, reason },
        MAX_REMEMBERED_FAILURES,
      );
      return { kind: 'refused', reason };
    }
    this.#failedDocuments.delete(clientId);
    const now = this.deps.clock.now();
    const { document, seconds } = read;
    const client = await this.deps.db.transaction().execute(async (trx) => {
      const saved = await repo.saveMetadataClient(trx, {
        clientId,
        name: document.name,
        redirectUris: document.redirectUris,
        postLogoutRedirectUris: document.postLogoutRedirectUris,
        grantTypes: document.grantTypes,
        scopes: document.scopes,
        expiresAt: addSeconds(now, seconds),
        now,
      });
      const system: Actor = { actorId: null, permissions: [] };
      const described = {
        registration: 'metadata_document',
        redirect_uris: saved.client.redirect_uris,
        grant_types: saved.client.grant_types,
        scopes: saved.client.scopes,
      };
      if (!saved.previous)
        await this.#audit(trx, 'oauth.client_created', saved.client, system, described);
      else if (changedByDocument(saved.previous, saved.client))
        await this.#audit(trx, 'oauth.client_updated', saved.client, system, described);
      return saved.client;
    });
    return { kind: 'found', client };
  }

  /**
   * Client authentication at the token side (RFC 6749 §2.3): a confidential client must
   * present its secret, a public client must present none. Throws InvalidClientError on any
   * failure, with the same work done whether or not the client exists.
   */
  async authenticateClient(input: {
    clientId: string;
    clientSecret: string | undefined;
  }): Promise<OAuthClient> {
    const refusedUrl = isClientIdUrl(input.clientId) && !this.deps.metadataDocuments.enabled;
    const found = refusedUrl
      ? undefined
      : await repo.findClientWithSecret(this.deps.db, input.clientId);
    // Always one hash and one constant-time comparison, whichever way this ends.
    const matches = sameHash(
      found?.secret_hash ?? ABSENT_SECRET_HASH,
      hashOpaqueToken(input.clientSecret ?? ''),
    );
    if (!found) throw new InvalidClientError('Client authentication failed');
    const { secret_hash: secretHash, ...client } = found;
    if (client.type === 'public') {
      // A secret sent by a public client means a confused or misconfigured client: refusing
      // it keeps "public" from silently meaning "secret optional".
      if (input.clientSecret !== undefined)
        throw new InvalidClientError('A public client does not authenticate with a secret');
      return client;
    }
    if (input.clientSecret === undefined || secretHash === null || !matches)
      throw new InvalidClientError('Client authentication failed');
    return client;
  }

  async list(page: {
    limit: number;
    cursor?: string | undefined;
  }): Promise<{ items: OAuthClientView[]; next_cursor: string | null }> {
    const after = page.cursor ? decodeCursor(page.cursor, isClientId) : undefined;
    const rows = await repo.listClients(this.deps.db, { limit: page.limit, after });
    const { items, next_cursor } = toPage(rows, page.limit, (row) => ({
      at: row.created_at,
      id: row.client_id,
    }));
    return { items: items.map(toClientView), next_cursor };
  }

  async get(clientId: string): Promise<OAuthClientView> {
    return toClientView(await this.#existing(clientId));
  }

  /** Registers a client; a confidential client's secret is in the answer and nowhere else. */
  async create(input: CreateOAuthClient, actor: Actor): Promise<OAuthClientWithSecret> {
    const redirectUris = checkUris('redirect_uris', input.redirect_uris ?? []);
    const grantTypes = inOrderOf(CLIENT_GRANT_TYPES, input.grant_types ?? DEFAULT_GRANT_TYPES);
    requireRedirectUris(grantTypes, redirectUris);
    const scopes = await this.#checkScopes(input.scopes ?? DEFAULT_SCOPES);
    const postLogout = checkUris(
      'post_logout_redirect_uris',
      input.post_logout_redirect_uris ?? [],
    );
    const generated = input.type === 'confidential' ? newSecret() : undefined;
    return this.deps.db.transaction().execute(async (trx) => {
      const client = await repo.insertClient(trx, {
        clientId: input.client_id ?? CLIENT_ID_PREFIX + randomBytes(16).toString('hex'),
        name: input.name.trim(),
        type: input.type,
        secretHash: generated?.hash ?? null,
        redirectUris,
        postLogoutRedirectUris: postLogout,
        grantTypes,
        scopes,
        firstParty: input.first_party ?? false,
        registration: 'admin',
        createdBy: actor.actorId,
        now: this.deps.clock.now(),
      });
      await this.#audit(trx, 'oauth.client_created', client, actor, {
        type: client.type,
        first_party: client.first_party,
        redirect_uris: client.redirect_uris,
        grant_types: client.grant_types,
        scopes: client.scopes,
      });
      const view = toClientView(client);
      return generated ? { ...view, client_secret: generated.secret } : view;
    });
  }

  /**
   * RFC 7591 dynamic registration by anybody: checked against the policy (throws
   * RegistrationError, before anything is written), stored as a `dynamic` client that is never
   * first-party, audited without an actor (with the caller's address, the one trace of who
   * registered it). The answer is RFC 7591 §3.2.1's.
   */
  async register(
    request: RegistrationRequest,
    policy: RegistrationPolicy,
    caller: ClientContext,
  ): Promise<RegistrationResponse> {
    const checked = checkRegistration(request, policy, await this.deps.resources.scopeNames());
    const generated = checked.type === 'confidential' ? newSecret() : undefined;
    const now = this.deps.clock.now();
    const client = await this.deps.db.transaction().execute(async (trx) => {
      const client = await repo.insertClient(trx, {
        clientId: CLIENT_ID_PREFIX + randomBytes(16).toString('hex'),
        name: checked.name,
        type: checked.type,
        secretHash: generated?.hash ?? null,
        redirectUris: checked.redirectUris,
        postLogoutRedirectUris: checked.postLogoutRedirectUris,
        grantTypes: checked.grantTypes,
        scopes: checked.scopes,
        // Consent is what stands between a self-registered client and a person's account.
        firstParty: false,
        registration: 'dynamic',
        createdBy: null,
        now,
      });
      await this.#audit(
        trx,
        'oauth.client_created',
        client,
        { actorId: null, client: caller, permissions: [] },
        {
          registration: 'dynamic',
          type: client.type,
          redirect_uris: client.redirect_uris,
          grant_types: client.grant_types,
          scopes: client.scopes,
        },
      );
      return client;
    });
    return {
      client_id: client.client_id,
      ...(generated ? { client_secret: generated.secret, client_secret_expires_at: 0 } : {}),
      client_id_issued_at: Math.floor(client.created_at.getTime() / 1000),
      client_name: client.name,
      redirect_uris: client.redirect_uris,
      post_logout_redirect_uris: client.post_logout_redirect_uris,
      token_endpoint_auth_method: checked.authMethod,
      grant_types: client.grant_types,
      response_types: ['code'],
      scope: [...client.scopes, ...checked.resourceScopes].join(' '),
      application_type: checked.applicationType,
    };
  }

  /**
   * Deletes dynamically registered and metadata-document clients never used within
   * UNUSED_DYNAMIC_CLIENT_SECONDS of being made (see deleteUnusedSelfRegisteredClients), each
   * audited as deleted without an actor.
   * Returns how many went. Run by the OpenID Connect housekeeping job.
   */
  async sweepUnusedSelfRegisteredClients(): Promise<number> {
    const before = addSeconds(this.deps.clock.now(), -UNUSED_DYNAMIC_CLIENT_SECONDS);
    return this.deps.db.transaction().execute(async (trx) => {
      const deleted = await repo.deleteUnusedSelfRegisteredClients(trx, before);
      for (const client of deleted)
        await this.#audit(
          trx,
          'oauth.client_deleted',
          client,
          { actorId: null, permissions: [] },
          { registration: client.registration, reason: 'unused' },
        );
      return deleted.length;
    });
  }

  /**
   * Changes what is given. Grants already made keep working: narrowing the client's scopes
   * or URIs applies to the next authorization (revoke consents or delete the client to end
   * them at once).
   */
  async update(clientId: string, patch: UpdateOAuthClient, actor: Actor): Promise<OAuthClientView> {
    const changes: repo.ClientChanges = {};
    if (patch.name !== undefined) changes.name = patch.name.trim();
    if (patch.redirect_uris !== undefined)
      changes.redirect_uris = checkUris('redirect_uris', patch.redirect_uris);
    if (patch.post_logout_redirect_uris !== undefined)
      changes.post_logout_redirect_uris = checkUris(
        'post_logout_redirect_uris',
        patch.post_logout_redirect_uris,
      );
    if (patch.grant_types !== undefined)
      changes.grant_types = inOrderOf(CLIENT_GRANT_TYPES, patch.grant_types);
    if (patch.scopes !== undefined) changes.scopes = await this.#checkScopes(patch.scopes);
    if (patch.first_party !== undefined) changes.first_party = patch.first_party;
    // Anybody may have registered a dynamic client: trusting it to skip consent is refused
    // (the table's check constraint would refuse it too, as a failure rather than an answer).
    if (changes.redirect_uris !== undefined || changes.grant_types !== undefined) {
      const current = await this.#existing(clientId);
      requireRedirectUris(
        changes.grant_types ?? current.grant_types,
        changes.redirect_uris ?? current.redirect_uris,
      );
    }
    if (patch.first_party === true && (await this.#existing(clientId)).registration === 'dynamic')
      throw new AppError(
        'validation_failed',
        'A dynamically registered client cannot be first-party',
        [{ field: 'first_party', message: 'must be false for a dynamically registered client' }],
      );
    if (Object.keys(changes).length === 0)
      throw new AppError('validation_failed', 'Nothing to change', [
        { field: 'body', message: 'names no field that can be changed' },
      ]);
    // Its document is the truth: a change made here would be undone by the next fetch.
    if (isClientIdUrl(clientId))
      throw new AppError(
        'conflict',
        'A client whose client_id is a metadata document URL changes when its document does',
      );
    return this.deps.db.transaction().execute(async (trx) => {
      const client = await repo.updateClient(trx, clientId, changes, this.deps.clock.now());
      if (!client) throw new AppError('not_found', 'No such client');
      await this.#audit(trx, 'oauth.client_updated', client, actor, { changes });
      return toClientView(client);
    });
  }

  /** A new secret for a confidential client; the old one stops authenticating at once. */
  async rotateSecret(
    clientId: string,
    actor: Actor,
  ): Promise<OAuthClientView & { client_secret: string }> {
    const existing = await this.#existing(clientId);
    if (existing.type !== 'confidential')
      throw new AppError('conflict', 'A public client has no secret to rotate');
    const { secret, hash } = newSecret();
    return this.deps.db.transaction().execute(async (trx) => {
      const client = await repo.replaceSecret(trx, clientId, hash, this.deps.clock.now());
      if (!client) throw new AppError('not_found', 'No such client');
      await this.#audit(trx, 'oauth.client_rotated', client, actor);
      return { ...toClientView(client), client_secret: secret };
    });
  }

  /** Deletes the client with every consent given to it, and ends every grant it holds. */
  async delete(clientId: string, actor: Actor): Promise<void> {
    const deleted = await this.deps.db.transaction().execute(async (trx) => {
      const consents = await deleteClientConsents(trx, clientId);
      const client = await repo.deleteClient(trx, clientId);
      if (client)
        await this.#audit(trx, 'oauth.client_deleted', client, actor, {
          consents_deleted: consents,
        });
      return client;
    });
    // After the commit (the revocation announces itself to every instance), and even when the
    // client was already gone: a retry after a failure right here still ends its grants.
    const revoked = await this.deps.sessions.revokeClientGrants(
      undefined,
      clientId,
      'client_deleted',
    );
    if (!deleted && revoked.length === 0) throw new AppError('not_found', 'No such client');
  }

  /**
   * The OpenID scopes in their canonical order, then protected APIs' scopes as given, once
   * each; a name no API defines is refused (a typo would otherwise grant nothing, silently).
   */
  async #checkScopes(values: readonly string[]): Promise<string[]> {
    const oidc = Object.keys(OIDC_SCOPES);
    const others = [...new Set(values.filter((scope) => !oidc.includes(scope)))];
    const defined = others.length > 0 ? await this.deps.resources.scopeNames() : new Set();
    const unknown = others.filter((scope) => !defined.has(scope));
    if (unknown.length > 0) {
      const errors: FieldError[] = [];
      values.forEach((scope, i) => {
        if (unknown.includes(scope))
          errors.push({
            field: `scopes.${i}`,
            message: `${scope} is no scope of the OpenID ones nor of a registered protected API`,
          });
      });
      throw new AppError('validation_failed', 'A scope may not be given to the client', errors);
    }
    return [...inOrderOf(oidc, values), ...others];
  }

  async #existing(clientId: string): Promise<OAuthClient> {
    const client = await repo.findClient(this.deps.db, clientId);
    if (!client) throw new AppError('not_found', 'No such client');
    return client;
  }

  async #audit(
    trx: Trx,
    type: ClientEvent,
    client: OAuthClient,
    actor: Actor,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    // `client_id` names the OAuth client the event is about; a service account that acted
    // goes under `actor_client_id` (as in the service accounts' events).
    await this.deps.audit.record(
      {
        type,
        ...auditedBy(
          { ...actor, clientId: undefined },
          {
            client_id: client.client_id,
            name: client.name,
            ...extra,
            ...(actor.clientId ? { actor_client_id: actor.clientId } : {}),
          },
        ),
      },
      trx,
    );
  }
}
