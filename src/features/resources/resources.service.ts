import type { Db } from '../../db/create-db.js';
import { AppError, type FieldError } from '../../errors.js';
import { type Actor, auditedBy } from '../../lib/actor.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import { isLoopbackHost } from '../../lib/loopback.js';
import type { AuditService } from '../audit/audit.service.js';
import type { ProtectedResource } from '../oidc/oidc.types.js';
import * as repo from './resources.repository.js';
import type { CreateResource, ResourceView, UpdateResource } from './resources.schemas.js';

export interface ResourcesServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditService;
}

/** What a 401 for a request to a protected API tells the client (RFC 9728 §5.1). */
export interface ResourceChallenge {
  identifier: string;
  resourceMetadata: string;
  scope: string;
}

// The resource list, for the forward-auth challenge: read at most this often. A change shows
// in challenges within this long on every instance; nothing is granted on its strength.
const LIST_CACHE_MS = 30_000;

function toView(row: repo.ResourceRecord): ResourceView {
  return {
    id: row.id,
    identifier: row.identifier,
    name: row.name,
    scopes: row.scopes,
    access_token_ttl: row.access_token_ttl,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/**
 * RFC 8707 §2: an absolute URI without a fragment; https, or http on a loopback host (local
 * development). Compared as a string, so it is kept as given.
 */
function checkIdentifier(identifier: string): void {
  let url: URL;
  try {
    url = new URL(identifier);
  } catch {
    throw invalid('identifier', 'must be an absolute URI');
  }
  if (identifier.includes('#')) throw invalid('identifier', 'must not have a fragment');
  const secure =
    url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
  if (!secure) throw invalid('identifier', 'must be https (or http on a loopback host)');
}

function checkScopes(scopes: readonly { name: string }[]): void {
  const names = scopes.map((scope) => scope.name);
  const repeated = names.filter((name, index) => names.indexOf(name) !== index);
  if (repeated.length > 0) throw invalid('scopes', `repeats ${[...new Set(repeated)].join(', ')}`);
}

function invalid(field: string, message: string): AppError {
  const errors: FieldError[] = [{ field, message }];
  return new AppError('validation_failed', `${field} ${message}`, errors);
}

/** Whether `url` is the identifier or lies under it (at a path boundary). */
function isUnder(url: string, identifier: string): boolean {
  if (url === identifier) return true;
  const base = identifier.endsWith('/') ? identifier : `${identifier}/`;
  return url.startsWith(base) || url.startsWith(`${identifier}?`);
}

/** Protected APIs (RFC 8707 resources): the registry, and what a client is told about them. */
export class ResourcesService {
  #listed: { at: number; rows: repo.ResourceRecord[] } | undefined;

  constructor(private readonly deps: ResourcesServiceDeps) {}

  async list(page: { limit: number; cursor?: string | undefined }) {
    const after = page.cursor ? decodeCursor(page.cursor) : undefined;
    const rows = await repo.listResources(this.deps.db, { limit: page.limit, after });
    const { items, next_cursor } = toPage(rows, page.limit, (row) => ({
      at: row.created_at,
      id: row.id,
    }));
    return { items: items.map(toView), next_cursor };
  }

  async get(id: string): Promise<ResourceView> {
    const row = await repo.findResource(this.deps.db, id);
    if (!row) throw new AppError('not_found', 'No such resource');
    return toView(row);
  }

  async create(input: CreateResource, actor: Actor): Promise<ResourceView> {
    checkIdentifier(input.identifier);
    const scopes = input.scopes ?? [];
    checkScopes(scopes);
    const row = await repo.insertResource(this.deps.db, {
      identifier: input.identifier,
      name: input.name.trim(),
      scopes,
      access_token_ttl: input.access_token_ttl ?? null,
      now: this.deps.clock.now(),
    });
    await this.#audit('resource.created', row, actor);
    return toView(row);
  }

  async update(id: string, patch: UpdateResource, actor: Actor): Promise<ResourceView> {
    if (patch.scopes) checkScopes(patch.scopes);
    const row = await repo.updateResource(
      this.deps.db,
      id,
      { ...patch, ...(patch.name !== undefined ? { name: patch.name.trim() } : {}) },
      this.deps.clock.now(),
    );
    if (!row) throw new AppError('not_found', 'No such resource');
    await this.#audit('resource.updated', row, actor);
    return toView(row);
  }

  async delete(id: string, actor: Actor): Promise<void> {
    const row = await repo.deleteResource(this.deps.db, id);
    if (!row) throw new AppError('not_found', 'No such resource');
    await this.#audit('resource.deleted', row, actor);
  }

  /** A protected API by its identifier (exact string, RFC 8707), for binding tokens to it. */
  async findResource(identifier: string): Promise<ProtectedResource | undefined> {
    if (identifier.length > 2048) return undefined;
    const row = await repo.findResourceByIdentifier(this.deps.db, identifier);
    return (
      row && {
        identifier: row.identifier,
        name: row.name,
        scopes: row.scopes,
        accessTokenTtl: row.access_token_ttl,
      }
    );
  }

  /**
   * Every scope some protected API defines: what a dynamic registration may name besides the
   * OpenID scopes. Read fresh (registering is rare), so a resource just added counts at once.
   */
  async scopeNames(): Promise<ReadonlySet<string>> {
    const rows = await repo.listAllResources(this.deps.db);
    return new Set(rows.flatMap((row) => row.scopes.map((scope) => scope.name)));
  }

  /**
   * The challenge for an unauthenticated request to `url`, when it lies under a registered
   * resource (the longest identifier wins): where its protected-resource metadata is, and
   * the scopes it defines.
   */
  async challengeFor(url: string): Promise<ResourceChallenge | undefined> {
    const rows = await this.#allResources();
    const match = rows
      .filter((row) => isUnder(url, row.identifier))
      .sort((a, b) => b.identifier.length - a.identifier.length)[0];
    if (!match) return undefined;
    return {
      identifier: match.identifier,
      // As API.md writes it: the resource's own URI, then the well-known name.
      resourceMetadata: `${match.identifier.replace(/\/$/, '')}/.well-known/oauth-protected-resource`,
      scope: match.scopes.map((scope) => scope.name).join(' '),
    };
  }

  async #allResources(): Promise<repo.ResourceRecord[]> {
    const now = Date.now();
    if (this.#listed && now - this.#listed.at < LIST_CACHE_MS) return this.#listed.rows;
    const rows = await repo.listAllResources(this.deps.db);
    this.#listed = { at: now, rows };
    return rows;
  }

  async #audit(
    type: 'resource.created' | 'resource.updated' | 'resource.deleted',
    row: repo.ResourceRecord,
    actor: Actor,
  ): Promise<void> {
    // This instance's challenges follow its own changes at once.
    this.#listed = undefined;
    await this.deps.audit.record({
      type,
      ...auditedBy(actor, { resource_id: row.id, identifier: row.identifier }),
    });
  }
}
