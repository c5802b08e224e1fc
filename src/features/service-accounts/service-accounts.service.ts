import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccessTokens, VerifiedAccessToken } from '../../crypto/access-tokens.js';
import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db, Trx } from '../../db/create-db.js';
import { AppError } from '../../errors.js';
import { type Actor, assertMayGrant, auditedBy } from '../../lib/actor.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import { isPermission } from '../../lib/permissions.js';
import type { AuditService } from '../audit/audit.service.js';
import { InvalidClientError, InvalidScopeError } from '../oauth/oauth.errors.js';
import * as repo from './service-accounts.repository.js';
import type { CreateServiceAccount, ServiceAccountView } from './service-accounts.schemas.js';

export interface ServiceAccountsServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditService;
  tokens: AccessTokens;
  /** Lifetime of a service token, seconds (SERVICE_TOKEN_TTL). */
  tokenTtl: number;
}

export interface ServiceTokenGrant {
  accessToken: string;
  expiresIn: number;
  scope: string;
}

const CLIENT_ID_PREFIX = 'sa_';
// Recognisable in a leaked-secret scan, like other providers' prefixed secrets.
const SECRET_PREFIX = 'hsas_';
// A fixed, well-formed hash compared against when the client id is unknown, so an unknown
// client costs the same work as a wrong secret.
const ABSENT_SECRET_HASH = hashOpaqueToken('absent');

function toView(account: repo.ServiceAccountRecord): ServiceAccountView {
  return {
    id: account.id,
    name: account.name,
    client_id: account.client_id,
    scopes: account.scopes,
    created_at: account.created_at.toISOString(),
    secret_rotated_at: account.secret_rotated_at?.toISOString() ?? null,
    last_used_at: account.last_used_at?.toISOString() ?? null,
  };
}

function newSecret(): { secret: string; hash: string } {
  const secret = SECRET_PREFIX + generateOpaqueToken();
  return { secret, hash: hashOpaqueToken(secret) };
}

function sameHash(a: string, b: string): boolean {
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

/** Machine clients (services, AI agents) that get short-lived, scoped access tokens. */
export class ServiceAccountsService {
  constructor(private readonly deps: ServiceAccountsServiceDeps) {}

  async list(page: { limit: number; cursor?: string | undefined }) {
    const after = page.cursor ? decodeCursor(page.cursor) : undefined;
    const rows = await repo.listServiceAccounts(this.deps.db, { limit: page.limit, after });
    const { items, next_cursor } = toPage(rows, page.limit, (row) => ({
      at: row.created_at,
      id: row.id,
    }));
    return { items: items.map(toView), next_cursor };
  }

  async get(id: string): Promise<ServiceAccountView> {
    const account = await repo.findServiceAccount(this.deps.db, id);
    if (!account) throw new AppError('not_found', 'No such service account');
    return toView(account);
  }

  /** Creates the account; the secret is in the answer and nowhere else, ever. */
  async create(
    input: CreateServiceAccount,
    actor: Actor,
  ): Promise<ServiceAccountView & { client_secret: string }> {
    assertMayGrant(actor, input.scopes);
    const { secret, hash } = newSecret();
    return this.deps.db.transaction().execute(async (trx) => {
      const account = await repo.insertServiceAccount(trx, {
        name: input.name.trim(),
        clientId: CLIENT_ID_PREFIX + randomBytes(16).toString('hex'),
        secretHash: hash,
        scopes: [...new Set(input.scopes)].sort(),
        createdBy: actor.actorId,
        now: this.deps.clock.now(),
      });
      await this.#audit(trx, 'service_account.created', account, actor);
      return { ...toView(account), client_secret: secret };
    });
  }

  /** A new secret; tokens issued with the old one stop working at once. */
  async rotate(id: string, actor: Actor): Promise<ServiceAccountView & { client_secret: string }> {
    // The new secret is the account's power: only for someone who holds all of it.
    assertMayGrant(actor, (await this.get(id)).scopes);
    const { secret, hash } = newSecret();
    return this.deps.db.transaction().execute(async (trx) => {
      const account = await repo.replaceSecret(trx, id, hash, this.deps.clock.now());
      if (!account) throw new AppError('not_found', 'No such service account');
      await this.#audit(trx, 'service_account.rotated', account, actor);
      return { ...toView(account), client_secret: secret };
    });
  }

  async delete(id: string, actor: Actor): Promise<void> {
    assertMayGrant(actor, (await this.get(id)).scopes);
    await this.deps.db.transaction().execute(async (trx) => {
      const account = await repo.deleteServiceAccount(trx, id);
      if (!account) throw new AppError('not_found', 'No such service account');
      await this.#audit(trx, 'service_account.deleted', account, actor);
    });
  }

  /**
   * The client_credentials grant (RFC 6749 §4.4): authenticates the client and issues a
   * short-lived token carrying the requested scopes (all of the account's when none are
   * asked for), with no refresh token.
   */
  async issueToken(
    clientId: string,
    clientSecret: string,
    requestedScope: string | undefined,
  ): Promise<ServiceTokenGrant> {
    const account = await repo.findCredentialsByClientId(this.deps.db, clientId);
    const matches = sameHash(
      account?.secret_hash ?? ABSENT_SECRET_HASH,
      hashOpaqueToken(clientSecret),
    );
    if (!account || !matches) throw new InvalidClientError('Client authentication failed');
    const requested = requestedScope?.split(' ').filter(Boolean);
    const granted = requested ? [...new Set(requested)] : account.scopes;
    const refused = granted.filter((scope) => !account.scopes.includes(scope));
    if (refused.length > 0) throw new InvalidScopeError(describeRefused(refused));
    const scope = granted.join(' ');
    const accessToken = await this.deps.tokens.sign(
      { sub: clientId, client_id: clientId, scope },
      this.deps.tokenTtl,
    );
    await repo.markUsed(this.deps.db, account.id, this.deps.clock.now());
    return { accessToken, expiresIn: this.deps.tokenTtl, scope };
  }

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

  async #audit(
    trx: Trx,
    type: 'service_account.created' | 'service_account.rotated' | 'service_account.deleted',
    account: repo.ServiceAccountRecord,
    actor: Actor,
  ): Promise<void> {
    // `client_id` names the account the event is about; when a service account acted,
    // its own client id goes under `actor_client_id` (elsewhere it is `client_id`).
    await this.deps.audit.record(
      {
        type,
        ...auditedBy(
          { ...actor, clientId: undefined },
          {
            service_account_id: account.id,
            client_id: account.client_id,
            name: account.name,
            scopes: account.scopes,
            ...(actor.clientId ? { actor_client_id: actor.clientId } : {}),
          },
        ),
      },
      trx,
    );
  }
}

/**
 * Names the refused scopes, but only well-formed ones and a few: the description echoes
 * client input, and RFC 6749 §5.2 allows it no quotes, backslashes or non-ASCII.
 */
function describeRefused(refused: string[]): string {
  const named = refused.filter(isPermission).slice(0, 10);
  return named.length === refused.length
    ? `The client may not ask for: ${named.join(' ')}`
    : 'The requested scope is malformed or exceeds what the client may ask for';
}

function floorToSecond(at: Date): number {
  return Math.floor(at.getTime() / 1000) * 1000;
}
