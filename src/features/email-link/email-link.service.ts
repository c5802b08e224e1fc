import { timingSafeEqual } from 'node:crypto';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import { openWithToken, sealWithToken } from '../../crypto/token-seal.js';
import type { Db } from '../../db/create-db.js';
import type { UserRow } from '../../db/database.js';
import { AppError } from '../../errors.js';
import type { ClientContext } from '../../lib/client.js';
import { normalizeEmail } from '../../lib/email.js';
import type { UserWithRoles } from '../accounts/accounts.types.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { AuditService } from '../audit/audit.service.js';
import type {
  EmailTokenBinding,
  EmailTokenState,
  EmailTokensService,
} from '../email-tokens/email-tokens.service.js';
import type { MailService } from '../mail/mail.service.js';
import type { RateLimits } from '../rate-limit/rate-limits.js';
import type { SignInService } from '../sessions/signin.service.js';
import {
  type BrowserSignIn,
  FIRST_STEP_AMR,
  type MfaChallenge,
  type SecondFactorGate,
  type TokenGrant,
} from '../sessions/sessions.types.js';

/** A sign-in link lives 15 minutes (API.md). */
export const EMAIL_LINK_TTL_SECONDS = 15 * 60;

/** What the audit's `user.signin` names as the way in. */
export const EMAIL_LINK_METHOD = 'email_link';

const INVALID = 'The token is spent, expired or unknown';

/**
 * A link asked for from a browser (/login): the nonce that browser keeps in its cookie, and
 * where its sign-in goes on once the link is opened there.
 */
export interface EmailLinkRequestBinding {
  nonce: string;
  /** The pending authorization request (/login?request=…). */
  requestId?: string | undefined;
  /** A page of ours to return to (/login?next=…, already checked). */
  next?: string | undefined;
}

/** What was sealed with a bound link: only the browser holding the nonce can read it. */
interface SealedContinuation {
  requestId?: string;
  next?: string;
}

/** Where a hosted sign-in goes on after the link (from the sealed binding). */
export interface EmailLinkContinuation {
  requestId: string | undefined;
  next: string | undefined;
}

export type BrowserLinkOutcome =
  /** A bound link opened in a browser without its nonce: nothing spent. */
  | { kind: 'wrong_browser' }
  | ({ kind: 'mfa'; mfaToken: string; factors: string[] } & EmailLinkContinuation)
  | ({ kind: 'signed_in'; browser: BrowserSignIn } & EmailLinkContinuation);

export interface EmailLinkServiceDeps {
  db: Db;
  accounts: AccountsService;
  signIn: Pick<SignInService, 'assertMaySignIn' | 'startSession' | 'startBrowserSession'>;
  /** The same second-factor hand-off as password sign-in: a link replaces the password only. */
  secondFactor: SecondFactorGate;
  emailTokens: EmailTokensService;
  mail: MailService;
  audit: AuditService;
  limits: RateLimits;
  /** Where a failure of the work done after answering is reported. */
  onBackgroundError: (error: unknown) => void;
}

function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Whether the nonce a browser presented is the one the link was bound to. */
function bindingHolds(binding: EmailTokenBinding | null, nonce: string | undefined): boolean {
  if (binding === null) return true;
  return nonce !== undefined && sameHash(hashOpaqueToken(nonce), binding.hash);
}

/**
 * Sign-in by a single-use link sent by e-mail ("magic link"): the link proves the person
 * reads the account's mailbox, in place of the password. The second factor is still due,
 * the account's state is checked as at sign-in, and the session opens as sign-in opens it.
 */
export class EmailLinkService {
  constructor(private readonly deps: EmailLinkServiceDeps) {}

  /**
   * Starts a sign-in by link, as `PasswordService.forgot` starts a reset: the caller answers
   * 202 as soon as this returns, after the same work whether or not the address has an
   * account (one indexed lookup); the token and the mail are written afterwards, off the
   * response path. A binding ties the link to the browser that asked.
   */
  async request(
    email: string,
    origin: ClientContext,
    binding?: EmailLinkRequestBinding,
  ): Promise<void> {
    const address = normalizeEmail(email);
    // Counted for every address alike, so a 429 says nothing about which ones exist.
    await this.deps.limits.consume(
      'signin_link_account_ip',
      `${address}|${origin.ip ?? 'unknown'}`,
    );
    const user = await this.deps.accounts.findUserByEmail(address);
    if (!user || !user.is_active) return;
    setImmediate(() => {
      this.#send(user, binding).catch(this.deps.onBackgroundError);
    });
  }

  async #send(
    user: Pick<UserRow, 'id' | 'email' | 'name'>,
    binding: EmailLinkRequestBinding | undefined,
  ): Promise<void> {
    // Caps per recipient and overall, as for reset mail; over a cap the request is answered
    // all the same and no mail goes.
    try {
      await this.deps.limits.consumeMail('email_signin', user.email);
    } catch (error) {
      if (error instanceof AppError && error.code === 'rate_limited') return;
      throw error;
    }
    const stored = binding && {
      hash: hashOpaqueToken(binding.nonce),
      sealed: sealWithToken(binding.nonce, {
        ...(binding.requestId === undefined ? {} : { requestId: binding.requestId }),
        ...(binding.next === undefined ? {} : { next: binding.next }),
      } satisfies SealedContinuation),
    };
    await this.deps.db.transaction().execute(async (trx) => {
      const { token, link } = await this.deps.emailTokens.issueLink(
        trx,
        { userId: user.id, email: user.email },
        'email_signin',
        EMAIL_LINK_TTL_SECONDS,
        stored,
      );
      await this.deps.mail.enqueue(trx, user.email, {
        template: 'email_signin',
        name: user.name,
        link,
        // A bound link works only in its browser: a token to type into an app would not.
        ...(stored ? {} : { token }),
        expiresInMinutes: EMAIL_LINK_TTL_SECONDS / 60,
      });
    });
  }

  /**
   * POST /api/auth/email-link/verify: the token response of a sign-in, or the second
   * factor's challenge. A link bound to a browser works only with that browser's nonce.
   */
  async verify(
    token: string,
    nonce: string | undefined,
    client: ClientContext,
  ): Promise<TokenGrant | MfaChallenge> {
    const owner = await this.deps.emailTokens.peek(token, 'email_signin');
    if (!bindingHolds(owner.binding, nonce)) throw new AppError('invalid_token', INVALID);
    const proven = await this.#redeem(token, client);
    if ('mfaRequired' in proven) return proven;
    return this.deps.signIn.startSession(proven, client, { method: EMAIL_LINK_METHOD });
  }

  /**
   * The confirmation on the link's page: a browser session (or the second factor's
   * challenge), and where the sign-in goes on. A bound link opened in another browser is
   * refused without being spent, so the person can still open it in the right one.
   */
  async signInBrowser(
    token: string,
    nonce: string | undefined,
    client: ClientContext,
  ): Promise<BrowserLinkOutcome> {
    const owner = await this.deps.emailTokens.peek(token, 'email_signin');
    if (!bindingHolds(owner.binding, nonce)) return { kind: 'wrong_browser' };
    const continuation = continuationOf(owner, nonce);
    const proven = await this.#redeem(token, client);
    if ('mfaRequired' in proven)
      return { kind: 'mfa', mfaToken: proven.mfaToken, factors: proven.factors, ...continuation };
    const amr = FIRST_STEP_AMR.email_link;
    const browser = await this.deps.signIn.startBrowserSession(proven, client, amr, {
      method: EMAIL_LINK_METHOD,
    });
    return { kind: 'signed_in', browser, ...continuation };
  }

  /**
   * Spends the token and proves the user: the address the link went to must still be the
   * account's; opening it proves that address (marked verified, as a reset link does); a
   * disabled account is refused as at sign-in, its token left unspent.
   */
  async #redeem(token: string, client: ClientContext): Promise<UserWithRoles | MfaChallenge> {
    const { accounts, audit } = this.deps;
    let disabled: string | undefined;
    const userId = await this.deps.db
      .transaction()
      .execute(async (trx) => {
        const spent = await this.deps.emailTokens.consume(trx, token, 'email_signin');
        const user = await accounts.findUser(spent.userId, trx);
        if (!user || user.email !== spent.email) throw new AppError('invalid_token', INVALID);
        if (!user.is_active) {
          disabled = user.id;
          // Rolls the transaction back: the token stays as it was.
          throw new AppError('account_disabled');
        }
        if (!user.email_verified) {
          await accounts.markEmailVerified(trx, user.id);
          await audit.record(
            { type: 'email.verified', actorId: user.id, userId: user.id, ...client },
            trx,
          );
        }
        return user.id;
      })
      .catch(async (error: unknown) => {
        if (disabled !== undefined)
          await audit.record({
            type: 'user.signin_failed',
            userId: disabled,
            outcome: 'failure',
            ...client,
            data: { reason: 'account_disabled', method: EMAIL_LINK_METHOD },
          });
        throw error;
      });
    // The address may have become verified: GET /me shows it, on every instance.
    await accounts.usersChanged([userId]);
    const user = await accounts.getUser(userId);
    this.deps.signIn.assertMaySignIn(user);
    const challenge = await this.deps.secondFactor.challengeFor(user, 'email_link');
    return challenge ?? user;
  }
}

function continuationOf(owner: EmailTokenState, nonce: string | undefined): EmailLinkContinuation {
  const sealed =
    owner.binding?.sealed && nonce !== undefined
      ? openWithToken<SealedContinuation>(nonce, owner.binding.sealed)
      : undefined;
  return { requestId: sealed?.requestId, next: sealed?.next };
}
