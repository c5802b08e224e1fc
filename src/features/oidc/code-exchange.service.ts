import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../config/config.js';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import type { Db, Trx } from '../../db/create-db.js';
import type { ClientContext } from '../../lib/client.js';
import type { Clock } from '../../lib/clock.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { UserWithRoles } from '../accounts/accounts.types.js';
import type { AuditService } from '../audit/audit.service.js';
import type { MetricsRecorder } from '../ops/metrics.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import * as codes from './authorization-codes.repository.js';
import { type ClientGrant, openGrantSession, signGrant } from './client-grant.js';
import type { OidcTokenSigner } from './client-token-signer.js';
import type { OAuthClient } from './oidc.types.js';

export interface CodeExchangeServiceDeps {
  db: Db;
  clock: Clock;
  accounts: Pick<AccountsService, 'findUser'>;
  sessions: Pick<
    SessionsService,
    'openClientSession' | 'revokeSessionWithin' | 'announceRevoked' | 'isLive'
  >;
  audit: AuditService;
  signer: Pick<OidcTokenSigner, 'sign'>;
  config: Pick<Config, 'accessTokenTtl' | 'refreshTokenTtl' | 'sessionMaxLifetime'>;
  metrics?: Pick<MetricsRecorder, 'oauthCodeExchange'>;
}

/** The tokens a code is exchanged for. */
export type CodeGrant = ClientGrant;

export interface CodeRedemption {
  code: string;
  redirectUri: string;
  codeVerifier: string;
  /** RFC 8707 `resource` sent with the exchange: it must be the one the code was issued for. */
  resource?: string | undefined;
  /** The client, already authenticated. */
  client: OAuthClient;
}

/** A redemption refused: `invalid_grant` (RFC 6749 §5.2), or `invalid_target` (RFC 8707). */
export class InvalidGrantError extends Error {
  constructor(
    message: string,
    readonly code: 'invalid_grant' | 'invalid_target' = 'invalid_grant',
  ) {
    super(message);
  }
}

type Outcome =
  | {
      kind: 'issued';
      user: UserWithRoles;
      sessionId: string;
      refreshToken: string | null;
      record: codes.CodeRecord;
    }
  | { kind: 'reused'; revoked: string[] }
  | { kind: 'invalid'; reason: string; code?: 'invalid_target' };

/** RFC 7636: BASE64URL(SHA256(code_verifier)) == code_challenge, compared in constant time. */
function pkceMatches(verifier: string, challenge: string): boolean {
  const computed = Buffer.from(createHash('sha256').update(verifier, 'ascii').digest('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

/**
 * The authorization_code grant: a code is single-use, lives AUTHORIZATION_CODE_TTL, and is
 * good only for the client, redirect URI and PKCE verifier it was issued for. Presented a
 * second time it fails, and what the first exchange issued is revoked (RFC 6749 §4.1.2).
 */
export class CodeExchangeService {
  constructor(private readonly deps: CodeExchangeServiceDeps) {}

  async exchange(redemption: CodeRedemption, client: ClientContext): Promise<CodeGrant> {
    const outcome = await this.deps.db
      .transaction()
      .execute((trx) => this.#redeem(trx, redemption, client));
    this.deps.metrics?.oauthCodeExchange(
      redemption.client.client_id,
      outcome.kind === 'issued'
        ? 'success'
        : outcome.kind === 'reused'
          ? 'reused'
          : 'invalid_grant',
    );
    if (outcome.kind === 'reused') {
      await this.deps.sessions.announceRevoked(outcome.revoked);
      throw new InvalidGrantError('The authorization code was already used');
    }
    if (outcome.kind === 'invalid') throw new InvalidGrantError(outcome.reason, outcome.code);
    const { user, sessionId, refreshToken, record } = outcome;
    return signGrant(this.deps.signer, user, { sessionId, refreshToken }, record);
  }

  async #redeem(
    trx: Trx,
    { code, redirectUri, codeVerifier, resource, client: oauthClient }: CodeRedemption,
    client: ClientContext,
  ): Promise<Outcome> {
    const { clock, config, sessions, audit, accounts } = this.deps;
    const now = clock.now();
    const codeHash = hashOpaqueToken(code);
    const record = await codes.lockCode(trx, codeHash);
    if (!record || record.clientId !== oauthClient.client_id)
      return { kind: 'invalid', reason: 'The authorization code is not valid' };
    if (record.spentAt !== null) {
      const revoked = record.issuedSessionId
        ? await sessions.revokeSessionWithin(trx, record.issuedSessionId, 'code_reused')
        : [];
      await audit.record(
        {
          type: 'oauth.code_reused',
          userId: record.userId,
          outcome: 'failure',
          ...client,
          data: { client_id: record.clientId, session_ids: revoked },
        },
        trx,
      );
      return { kind: 'reused', revoked };
    }
    if (record.expiresAt <= now)
      return { kind: 'invalid', reason: 'The authorization code has expired' };
    if (record.redirectUri !== redirectUri)
      return { kind: 'invalid', reason: 'redirect_uri differs from the authorization request' };
    if (resource !== undefined && resource !== record.resource)
      return {
        kind: 'invalid',
        reason: 'resource differs from the authorization request',
        code: 'invalid_target',
      };
    if (!pkceMatches(codeVerifier, record.codeChallenge))
      return { kind: 'invalid', reason: 'code_verifier does not match the code_challenge' };
    // Signed out (or revoked) between the authorization and the exchange: nothing to issue.
    if (!(await sessions.isLive(record.browserSessionId, record.userId, trx)))
      return { kind: 'invalid', reason: 'The sign-in behind the code has ended' };
    const user = await accounts.findUser(record.userId, trx);
    if (!user || !user.is_active) return { kind: 'invalid', reason: 'The account is disabled' };
    const { sessionId, refreshToken } = await openGrantSession(trx, this.deps, {
      client: oauthClient,
      approved: record,
      now,
      context: client,
    });
    await codes.spendCode(trx, codeHash, now, sessionId);
    return { kind: 'issued', user, sessionId, refreshToken, record };
  }
}
