import type { ClientContext } from '../../lib/client.js';
import type { FactorProof } from '../mfa/factor.js';
import type { MfaService } from '../mfa/mfa.service.js';
import type { PasskeysService } from '../passkeys/passkeys.service.js';
import type { AuthenticationResponseJSON } from '../passkeys/passkeys.types.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import type { SignInService } from '../sessions/signin.service.js';
import type { BrowserSignIn } from '../sessions/sessions.types.js';
import type { AuthorizeOutcome, AuthorizeService } from './authorize.service.js';

export interface HostedSignInServiceDeps {
  signIn: Pick<SignInService, 'authenticate' | 'startBrowserSession'>;
  mfa: Pick<MfaService, 'prove'>;
  passkeys: Pick<PasskeysService, 'authenticate'>;
  sessions: Pick<SessionsService, 'findBrowserSession' | 'endBrowserSession'>;
  authorize: Pick<AuthorizeService, 'continueAfterSignIn'>;
}

export type SignInStep =
  /** A second factor is due: the challenge's token and the factors it may be answered with. */
  | { kind: 'mfa'; mfaToken: string; factors: string[] }
  /** Signed in: the cookie to set, and where the authorization request goes on (if any). */
  | { kind: 'signed_in'; browser: BrowserSignIn; next: AuthorizeOutcome | undefined };

/**
 * The hosted /login page's sign-in: the same password check and second factor as the API's
 * (same failure limits, same audit), ending in a browser session instead of tokens.
 * Failures are thrown as the API's AppErrors; the pages render them.
 */
export class HostedSignInService {
  constructor(private readonly deps: HostedSignInServiceDeps) {}

  async password(
    email: string,
    password: string,
    requestId: string | undefined,
    client: ClientContext,
  ): Promise<SignInStep> {
    const proven = await this.deps.signIn.authenticate(email, password, client);
    if ('mfaRequired' in proven)
      return { kind: 'mfa', mfaToken: proven.mfaToken, factors: proven.factors };
    return this.#open(proven, ['pwd'], requestId, client);
  }

  /** Primary sign-in with a passkey (usernameless or e-mail first): no second step follows. */
  async passkey(
    challengeId: string,
    response: AuthenticationResponseJSON,
    requestId: string | undefined,
    client: ClientContext,
  ): Promise<SignInStep> {
    const { user, amr } = await this.deps.passkeys.authenticate(challengeId, response, client);
    return this.#open(user, amr, requestId, client);
  }

  /** The second step: a code (`{code}`) or a passkey; `amr` as MfaService.prove gives it. */
  async secondFactor(
    mfaToken: string,
    proof: FactorProof,
    requestId: string | undefined,
    client: ClientContext,
  ): Promise<SignInStep> {
    const { user, amr } = await this.deps.mfa.prove(mfaToken, proof, client);
    return this.#open(user, amr, requestId, client);
  }

  /** Ends the browser session the cookie carries; false when there was none. */
  async signOut(cookie: string | undefined, client: ClientContext): Promise<boolean> {
    const session = await this.deps.sessions.findBrowserSession(cookie);
    if (!session) return false;
    await this.deps.sessions.endBrowserSession(session, client);
    return true;
  }

  async #open(
    user: Parameters<SignInService['startBrowserSession']>[0],
    amr: readonly string[],
    requestId: string | undefined,
    client: ClientContext,
  ): Promise<SignInStep> {
    const browser = await this.deps.signIn.startBrowserSession(user, client, amr);
    const next =
      requestId === undefined
        ? undefined
        : await this.deps.authorize.continueAfterSignIn(requestId, browser.session, client);
    return { kind: 'signed_in', browser, next };
  }
}
