import type { Config } from '../../config/config.js';
import { generateOpaqueToken, hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db, Trx } from '../../db/create-db.js';
import type { ClientContext } from '../../lib/client.js';
import { type Clock, addSeconds } from '../../lib/clock.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { UserWithRoles } from '../accounts/accounts.types.js';
import type { AuditService } from '../audit/audit.service.js';
import type { MetricsRecorder } from '../ops/metrics.js';
import type { RateLimits } from '../rate-limit/rate-limits.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import type { BrowserSession } from '../sessions/sessions.types.js';
import { checkScopeAndResource } from './authorize-params.js';
import {
  type ApprovedGrant,
  type ClientGrant,
  openGrantSession,
  signGrant,
} from './client-grant.js';
import type { OidcTokenSigner } from './client-token-signer.js';
import * as devices from './device-authorizations.repository.js';
import type { ClientLookup, ConsentStore, ResourceLookup } from './oidc.ports.js';
import type { OAuthClient, ProtectedResource } from './oidc.types.js';
import { formatUserCode, generateUserCode, normalizeUserCode } from './user-code.js';

/** A device code lives this long (RFC 8628 §3.2 `expires_in`): time to find a browser. */
export const DEVICE_CODE_TTL_SECONDS = 600;
/** Seconds between polls at first (RFC 8628 §3.2's default); slow_down adds 5 each time. */
export const DEVICE_POLL_INTERVAL_SECONDS = 5;
const SLOW_DOWN_STEP_SECONDS = 5;
/** How long an expired request is remembered: a late poll reads expired_token, not unknown. */
const EXPIRED_MEMORY_SECONDS = 24 * 3600;

export interface DeviceServiceDeps {
  db: Db;
  clock: Clock;
  clients: ClientLookup;
  consents: ConsentStore;
  resources: ResourceLookup;
  sessions: Pick<SessionsService, 'findBrowserSession' | 'openClientSession' | 'isLive'>;
  accounts: Pick<AccountsService, 'findUser'>;
  audit: Pick<AuditService, 'record'>;
  signer: Pick<OidcTokenSigner, 'sign'>;
  limits: Pick<RateLimits, 'consume' | 'refund'>;
  config: Pick<Config, 'publicUrl' | 'refreshTokenTtl' | 'sessionMaxLifetime'>;
  metrics?: Pick<MetricsRecorder, 'oauthDeviceAuthorization'>;
}

/** RFC 8628 §3.2's answer to the device. */
export interface StartedDeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string;
  expiresIn: number;
  interval: number;
}

/** A refusal the OAuth endpoints answer as `{error, error_description}` (RFC 8628 §3.5). */
export class DeviceFlowError extends Error {
  constructor(
    readonly code:
      | 'invalid_scope'
      | 'invalid_target'
      | 'invalid_grant'
      | 'authorization_pending'
      | 'slow_down'
      | 'access_denied'
      | 'expired_token',
    message: string,
  ) {
    super(message);
  }
}

/** A pending request as the confirmation page shows it. */
export interface DeviceRequestView {
  userCode: string;
  client: OAuthClient;
  scopes: string[];
  resource: ProtectedResource | undefined;
}

export type DeviceAnswer = 'approved' | 'denied' | 'gone';

type PollOutcome =
  | {
      kind: 'issued';
      user: UserWithRoles;
      approved: ApprovedGrant;
      opened: { sessionId: string; refreshToken: string | null };
    }
  | { kind: 'refused'; error: DeviceFlowError };

const USER_CODE_ATTEMPTS = 3;

/**
 * RFC 8628 device authorization: the device's request (two codes), the person's answer at
 * /device (signed in, code typed, app confirmed), and the device's polls, which are answered
 * with the tokens exactly once.
 */
export class DeviceService {
  constructor(private readonly deps: DeviceServiceDeps) {}

  /** POST /oauth/device_authorization, for a client already authenticated and allowed. */
  async start(
    client: OAuthClient,
    request: { scope: string | undefined; resource: string | undefined },
  ): Promise<StartedDeviceAuthorization> {
    const { db, clock, config, resources } = this.deps;
    const checked = await checkScopeAndResource(client, request.scope, request.resource, resources);
    if ('error' in checked) throw new DeviceFlowError(checked.error, checked.description);
    const now = clock.now();
    const deviceCode = generateOpaqueToken();
    for (let attempt = 0; attempt < USER_CODE_ATTEMPTS; attempt += 1) {
      const userCode = generateUserCode();
      const stored = await devices.insertDeviceAuthorization(db, {
        deviceCodeHash: hashOpaqueToken(deviceCode),
        userCodeHash: userCodeHash(userCode),
        clientId: client.client_id,
        scopes: checked.scopes,
        resource: checked.resource?.identifier ?? null,
        interval: DEVICE_POLL_INTERVAL_SECONDS,
        now,
        expiresAt: addSeconds(now, DEVICE_CODE_TTL_SECONDS),
      });
      if (!stored) continue;
      this.deps.metrics?.oauthDeviceAuthorization(client.client_id, 'started');
      const verificationUri = `${config.publicUrl}/device`;
      return {
        deviceCode,
        userCode,
        verificationUri,
        verificationUriComplete: `${verificationUri}?user_code=${encodeURIComponent(userCode)}`,
        expiresIn: DEVICE_CODE_TTL_SECONDS,
        interval: DEVICE_POLL_INTERVAL_SECONDS,
      };
    }
    throw new Error('no free user code after several draws');
  }

  /** The browser's sign-in, if it has one and its account is still active. */
  async signedIn(cookie: string | undefined): Promise<BrowserSession | undefined> {
    const session = await this.deps.sessions.findBrowserSession(cookie);
    if (!session) return undefined;
    const user = await this.deps.accounts.findUser(session.userId);
    return user?.is_active ? session : undefined;
  }

  /**
   * The pending request a typed code names. Every look-up is a guess until proven right: it
   * is counted against the source address first (429 beyond the limit), and given back when
   * the code was a live one — so only wrong or expired codes use the budget up.
   */
  async lookUp(typed: string, context: ClientContext): Promise<DeviceRequestView | undefined> {
    const { db, clock, limits, clients, resources } = this.deps;
    const key = context.ip ?? 'unknown';
    await limits.consume('device_code_ip', key);
    const code = normalizeUserCode(typed);
    const found =
      code && (await devices.findPendingByUserCode(db, hashOpaqueToken(code), clock.now()));
    const client = found && (await clients.findClient(found.clientId));
    if (!code || !found || !client) return undefined;
    await limits.refund('device_code_ip', key);
    return {
      userCode: formatUserCode(code),
      client,
      scopes: found.scopes,
      resource: found.resource === null ? undefined : await resources.findResource(found.resource),
    };
  }

  /**
   * The person's Allow or Deny for the request the code names: approving records consent
   * (as /consent does) for a client that is not first-party, and binds the request to this
   * browser sign-in, under which the device's client session will open.
   */
  async answer(
    typed: string,
    session: BrowserSession,
    allow: boolean,
    context: ClientContext,
  ): Promise<DeviceAnswer> {
    const { db, clock, consents, audit, metrics } = this.deps;
    const found = await this.lookUp(typed, context);
    const code = normalizeUserCode(typed);
    if (!found || !code) return 'gone';
    const hash = hashOpaqueToken(code);
    const clientId = found.client.client_id;
    const data = { client_id: clientId, scopes: found.scopes, session_id: session.id };
    if (!allow) {
      if (!(await devices.answer(db, hash, clock.now(), { status: 'denied' }))) return 'gone';
      await audit.record({
        type: 'oauth.device_denied',
        actorId: session.userId,
        userId: session.userId,
        ...context,
        data,
      });
      metrics?.oauthDeviceAuthorization(clientId, 'denied');
      return 'denied';
    }
    const approved = await devices.answer(db, hash, clock.now(), {
      status: 'approved',
      userId: session.userId,
      browserSessionId: session.id,
      authTime: session.authTime,
      amr: session.amr,
    });
    if (!approved) return 'gone';
    // Remembered as /consent remembers it (and shown, withdrawable, at /api/auth/consents).
    if (!found.client.first_party)
      await consents.grant(session.userId, clientId, found.scopes, context);
    await audit.record({
      type: 'oauth.device_approved',
      actorId: session.userId,
      userId: session.userId,
      ...context,
      data,
    });
    metrics?.oauthDeviceAuthorization(clientId, 'approved');
    return 'approved';
  }

  /**
   * The device's poll at the token endpoint (RFC 8628 §3.4): pending, too fast, denied,
   * expired, or the tokens — once; the device code is spent with them.
   */
  async poll(
    deviceCode: string,
    client: OAuthClient,
    context: ClientContext,
  ): Promise<ClientGrant> {
    const hash = hashOpaqueToken(deviceCode);
    const outcome = await this.deps.db
      .transaction()
      .execute((trx) => this.#poll(trx, hash, client, context));
    if (outcome.kind === 'refused') throw outcome.error;
    this.deps.metrics?.oauthDeviceAuthorization(client.client_id, 'issued');
    const { user, approved, opened } = outcome;
    return signGrant(this.deps.signer, user, opened, {
      ...approved,
      clientId: client.client_id,
      nonce: null,
    });
  }

  /** Deletes requests a day after they expired. */
  async sweepExpired(): Promise<void> {
    const before = addSeconds(this.deps.clock.now(), -EXPIRED_MEMORY_SECONDS);
    await devices.deleteExpired(this.deps.db, before);
  }

  async #poll(
    trx: Trx,
    hash: string,
    client: OAuthClient,
    context: ClientContext,
  ): Promise<PollOutcome> {
    const { clock, sessions, accounts } = this.deps;
    const now = clock.now();
    const refuse = (code: DeviceFlowError['code'], message: string): PollOutcome => ({
      kind: 'refused',
      error: new DeviceFlowError(code, message),
    });
    const record = await devices.lockByDeviceCode(trx, hash);
    if (!record || record.clientId !== client.client_id)
      return refuse('invalid_grant', 'The device code is not valid');
    if (record.status === 'spent')
      return refuse('invalid_grant', 'The device code was already used');
    if (record.expiresAt <= now) return refuse('expired_token', 'The device code has expired');
    if (record.status === 'denied') return refuse('access_denied', 'The user denied the request');
    if (record.status === 'pending') {
      const since = record.lastPolledAt && (now.getTime() - record.lastPolledAt.getTime()) / 1000;
      if (since !== null && since < record.interval) {
        const interval = record.interval + SLOW_DOWN_STEP_SECONDS;
        await devices.recordPoll(trx, hash, now, interval);
        return refuse('slow_down', `Poll at most every ${interval} seconds`);
      }
      await devices.recordPoll(trx, hash, now, record.interval);
      return refuse('authorization_pending', 'The user has not answered yet');
    }
    const { userId, browserSessionId, authTime, amr } = record;
    if (userId === null || browserSessionId === null || authTime === null || amr === null)
      return refuse('invalid_grant', 'The sign-in behind the approval has ended');
    // Signed out (or revoked) between the approval and the poll: nothing to issue.
    if (!(await sessions.isLive(browserSessionId, userId, trx)))
      return refuse('invalid_grant', 'The sign-in behind the approval has ended');
    const user = await accounts.findUser(userId, trx);
    if (!user || !user.is_active) return refuse('invalid_grant', 'The account is disabled');
    const approved: ApprovedGrant = {
      userId,
      browserSessionId,
      scopes: record.scopes,
      resource: record.resource,
      authTime,
      amr,
    };
    const opened = await openGrantSession(trx, this.deps, { client, approved, now, context });
    await devices.spend(trx, hash, now);
    return { kind: 'issued', user, approved, opened };
  }
}

function userCodeHash(userCode: string): string {
  return hashOpaqueToken(normalizeUserCode(userCode) ?? userCode);
}
