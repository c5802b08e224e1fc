import type { Config } from '../../config/config.js';
import type { IdTokens } from '../../crypto/id-tokens.js';
import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db } from '../../db/create-db.js';
import type { ClientContext } from '../../lib/client.js';
import { type Clock, addSeconds } from '../../lib/clock.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { AuditService } from '../audit/audit.service.js';
import type { MetricsRecorder } from '../ops/metrics.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import type { BrowserSession } from '../sessions/sessions.types.js';
import { deleteExpiredCodes, insertCode } from './authorization-codes.repository.js';
import * as requests from './authorization-requests.repository.js';
import {
  type RawParams,
  type RedirectError,
  clientRedirect,
  parseAuthorizeRequest,
} from './authorize-params.js';
import type { RateLimits } from '../rate-limit/rate-limits.js';
import type { ClientLookup, ConsentStore, ResourceLookup } from './oidc.ports.js';
import type { AuthorizationParams, OAuthClient } from './oidc.types.js';

/** A pending request lives this long: time enough to sign in, with a second factor. */
const REQUEST_TTL_SECONDS = 600;
/** How long an expired code is remembered (see sweepExpired). */
const SPENT_CODE_MEMORY_SECONDS = 24 * 3600;

export interface AuthorizeServiceDeps {
  db: Db;
  clock: Clock;
  clients: ClientLookup;
  consents: ConsentStore;
  resources: ResourceLookup;
  sessions: Pick<SessionsService, 'findBrowserSession'>;
  accounts: Pick<AccountsService, 'findUser'>;
  idTokens: Pick<IdTokens, 'readHint'>;
  audit: Pick<AuditService, 'record'>;
  config: Pick<Config, 'publicUrl' | 'authorizationCodeTtl'>;
  metrics?: Pick<MetricsRecorder, 'oauthAuthorization'>;
  limits: Pick<RateLimits, 'consume'>;
}

/** What the browser is shown or sent to next. */
export type AuthorizeOutcome =
  /** To the client's redirect URI (a code, or an error): the form's CSP must allow it. */
  | { kind: 'redirect'; location: string; redirectUri: string }
  | { kind: 'login'; requestId: string }
  | { kind: 'consent'; requestId: string }
  /** No client to tell: a plain error page (400). */
  | { kind: 'error_page'; message: string };

/** A pending request as the pages show it. */
export interface PendingRequest {
  client: OAuthClient;
  params: AuthorizationParams;
  sessionId: string | null;
}

export const EXPIRED_REQUEST =
  'This sign-in request has expired or was already used. Go back to the application and try again.';

/**
 * The authorization endpoint's rules (OAuth 2.1 authorization code with PKCE, OpenID Connect
 * prompts): who must sign in, who must consent, and the code once both are settled.
 */
export class AuthorizeService {
  constructor(private readonly deps: AuthorizeServiceDeps) {}

  /** GET or POST /oauth/authorize. */
  async authorize(
    raw: RawParams,
    cookie: string | undefined,
    client: ClientContext,
  ): Promise<AuthorizeOutcome> {
    const { clients, idTokens, limits } = this.deps;
    // A client named by a URL may be fetched (a metadata document): counted per address.
    if (raw.get('client_id')?.some((id) => id.startsWith('https://')))
      await limits.consume('metadata_client_ip', client.ip ?? 'unknown');
    const parsed = await parseAuthorizeRequest(raw, clients, this.deps.resources, (token) =>
      idTokens.readHint(token),
    );
    if (parsed.kind === 'page') return { kind: 'error_page', message: parsed.message };
    if (parsed.kind === 'redirect') return this.#errorRedirect(parsed.error);
    const session = await this.deps.sessions.findBrowserSession(cookie);
    return this.#decide(
      { client: parsed.client, params: parsed.params, sessionId: null },
      session,
      {
        client,
      },
    );
  }

  /**
   * Deletes what can no longer be used: pending requests past their life, and codes a day
   * after they expired (kept that long so a replayed code is still recognised, and revokes
   * what it issued, rather than reading as unknown).
   */
  async sweepExpired(): Promise<void> {
    const now = this.deps.clock.now();
    await requests.deleteExpiredRequests(this.deps.db, now);
    await deleteExpiredCodes(this.deps.db, addSeconds(now, -SPENT_CODE_MEMORY_SECONDS));
  }

  /** The pending request behind a page's `request` parameter, unless expired or unknown. */
  async pending(requestId: string | undefined): Promise<PendingRequest | undefined> {
    if (!requestId || requestId.length > 128) return undefined;
    const { db, clock, clients } = this.deps;
    const stored = await requests.findRequest(db, hashOpaqueToken(requestId), clock.now());
    const client = stored && (await clients.findClient(stored.clientId));
    return stored && client && { client, params: stored.params, sessionId: stored.sessionId };
  }

  /** After a sign-in at /login made for this request: its session goes on with it. */
  async continueAfterSignIn(
    requestId: string,
    session: BrowserSession,
    client: ClientContext,
  ): Promise<AuthorizeOutcome> {
    const pending = await this.pending(requestId);
    if (!pending) return { kind: 'error_page', message: EXPIRED_REQUEST };
    await requests.bindSession(this.deps.db, hashOpaqueToken(requestId), session.id);
    return this.#decide({ ...pending, sessionId: session.id }, session, { client, requestId });
  }

  /**
   * The consent page's request, only in the browser session it was made in: a link to
   * /consent sent to someone else grants nothing.
   */
  async forConsent(requestId: string | undefined, cookie: string | undefined) {
    const pending = await this.pending(requestId);
    if (!pending) return undefined;
    const found = await this.deps.sessions.findBrowserSession(cookie);
    const session = found && (await this.#stillActive(found));
    if (!session || session.id !== pending.sessionId) return undefined;
    const { resource } = pending.params;
    return {
      ...pending,
      session,
      resource: resource === null ? undefined : await this.deps.resources.findResource(resource),
    };
  }

  /** The answer of the consent page: allow → remembered, and the code; deny → access_denied. */
  async answerConsent(
    requestId: string,
    cookie: string | undefined,
    allow: boolean,
    client: ClientContext,
  ): Promise<AuthorizeOutcome> {
    const found = await this.forConsent(requestId, cookie);
    if (!found) return { kind: 'error_page', message: EXPIRED_REQUEST };
    const { params, session } = found;
    if (!allow) {
      if (!(await requests.deleteRequest(this.deps.db, hashOpaqueToken(requestId))))
        return { kind: 'error_page', message: EXPIRED_REQUEST };
      return this.#errorRedirect({
        clientId: params.client_id,
        redirectUri: params.redirect_uri,
        error: 'access_denied',
        description: 'The user denied the request',
        state: params.state,
      });
    }
    await this.deps.consents.grant(session.userId, params.client_id, params.scopes, client);
    return this.#issue(found, session, { client, requestId });
  }

  async #decide(
    pending: PendingRequest,
    found: BrowserSession | undefined,
    context: { client: ClientContext; requestId?: string },
  ): Promise<AuthorizeOutcome> {
    const { client, params } = pending;
    const session = found && (await this.#stillActive(found));
    const { prompt } = params;
    // Made for this very request: prompt=login and max_age are satisfied by that sign-in.
    const signedInForThis = session !== undefined && session.id === pending.sessionId;
    const age = session && (this.deps.clock.now().getTime() - session.authTime.getTime()) / 1000;
    const mustSignIn =
      session === undefined ||
      (!signedInForThis &&
        (prompt.includes('login') || (params.max_age !== null && age! > params.max_age))) ||
      (params.id_token_hint_sub !== null && params.id_token_hint_sub !== session.userId);
    if (mustSignIn) {
      if (prompt.includes('none'))
        return this.#refuse(params, 'login_required', 'The user must sign in');
      return { kind: 'login', requestId: context.requestId ?? (await this.#store(params, null)) };
    }
    const granted = client.first_party
      ? undefined
      : await this.deps.consents.findGranted(session.userId, client.client_id);
    const covered = params.scopes.every((scope) => granted?.includes(scope));
    if (!client.first_party && (prompt.includes('consent') || !covered)) {
      if (prompt.includes('none'))
        return this.#refuse(params, 'consent_required', 'The user must consent');
      return {
        kind: 'consent',
        requestId: context.requestId ?? (await this.#store(params, session.id)),
      };
    }
    return this.#issue(pending, session, context);
  }

  /** A session whose user was deactivated since is no session. */
  async #stillActive(session: BrowserSession): Promise<BrowserSession | undefined> {
    const user = await this.deps.accounts.findUser(session.userId);
    return user?.is_active ? session : undefined;
  }

  async #store(params: AuthorizationParams, sessionId: string | null): Promise<string> {
    const { db, clock } = this.deps;
    const id = generateOpaqueToken();
    const now = clock.now();
    await requests.insertRequest(db, {
      idHash: hashOpaqueToken(id),
      params,
      sessionId,
      now,
      expiresAt: addSeconds(now, REQUEST_TTL_SECONDS),
    });
    return id;
  }

  /**
   * Issues the code: random, stored only as its hash, single use (the token side spends it),
   * bound to everything the token endpoint must check against it.
   */
  async #issue(
    pending: PendingRequest,
    session: BrowserSession,
    context: { client: ClientContext; requestId?: string },
  ): Promise<AuthorizeOutcome> {
    const { db, clock, config, audit } = this.deps;
    const { params } = pending;
    // The pending request ends here; a second submit of the same page finds it gone.
    if (
      context.requestId &&
      !(await requests.deleteRequest(db, hashOpaqueToken(context.requestId)))
    )
      return { kind: 'error_page', message: EXPIRED_REQUEST };
    const code = generateOpaqueToken();
    const now = clock.now();
    await insertCode(db, {
      codeHash: hashOpaqueToken(code),
      clientId: params.client_id,
      userId: session.userId,
      browserSessionId: session.id,
      redirectUri: params.redirect_uri,
      codeChallenge: params.code_challenge,
      nonce: params.nonce,
      scopes: params.scopes,
      resource: params.resource,
      authTime: session.authTime,
      amr: session.amr,
      now,
      expiresAt: addSeconds(now, config.authorizationCodeTtl),
    });
    await audit.record({
      type: 'oauth.authorized',
      actorId: session.userId,
      userId: session.userId,
      ...context.client,
      data: { client_id: params.client_id, scopes: params.scopes, session_id: session.id },
    });
    this.deps.metrics?.oauthAuthorization(params.client_id, 'code');
    return {
      kind: 'redirect',
      redirectUri: params.redirect_uri,
      location: clientRedirect(params.redirect_uri, {
        code,
        state: params.state,
        iss: config.publicUrl,
      }),
    };
  }

  #refuse(params: AuthorizationParams, error: string, description: string): AuthorizeOutcome {
    return this.#errorRedirect({
      clientId: params.client_id,
      redirectUri: params.redirect_uri,
      error,
      description,
      state: params.state,
    });
  }

  /** Every redirect back names us (`iss`, RFC 9207): a client talking to several providers can
   * tell whose answer it got (the mix-up attack). */
  #errorRedirect(error: RedirectError): AuthorizeOutcome {
    this.deps.metrics?.oauthAuthorization(error.clientId, error.error);
    return {
      kind: 'redirect',
      redirectUri: error.redirectUri,
      location: clientRedirect(error.redirectUri, {
        error: error.error,
        error_description: error.description,
        state: error.state,
        iss: this.deps.config.publicUrl,
      }),
    };
  }
}
