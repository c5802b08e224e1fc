import type { ClientContext } from '../../lib/client.js';
import { normalizeEmail } from '../../lib/email.js';
import { type RateLimits, slowDownAfterFailures } from './rate-limits.js';

/** The counters one attempt was charged to. */
interface ReservedFailure {
  account: string;
  accountSource: string;
  /** Failures from this source in the window, this attempt included. */
  fromSource: number;
}

/**
 * Guesses at an account's secrets — a password at sign-in, a password typed again to change it
 * or delete the account, a TOTP or recovery code — all draw on the same failure budget, so a
 * guesser gains nothing by switching between them. The sequence is always reserve → check →
 * slow down (wrong) or forgive (right).
 */
export class FailureCounter {
  constructor(private readonly limits: RateLimits) {}

  /**
   * One guess as a counted attempt: counted against the account's failure limits before
   * `check` runs (429 beyond them), answered late after repeated failures from this source,
   * forgiven when right. Resolves with what `check` found, or undefined for a wrong guess,
   * after `onWrong`.
   */
  async attempt<T>(
    email: string,
    client: ClientContext,
    check: () => Promise<T | undefined>,
    onWrong?: () => Promise<void>,
  ): Promise<T | undefined> {
    const reserved = await this.#reserve(email, client);
    const found = await check();
    if (found === undefined) {
      await onWrong?.();
      await slowDownAfterFailures(reserved.fromSource);
      return undefined;
    }
    await this.#forgive(reserved);
    return found;
  }

  /**
   * A signed-in user's password typed again (password change, account deletion): to whoever
   * holds a stolen session it is a way to guess the password, so it counts exactly like a
   * sign-in — the same limits (429 beyond them), slower answers after the fifth failure from
   * one source, forgiven when right.
   */
  async verify(
    email: string,
    client: ClientContext,
    check: () => Promise<boolean>,
  ): Promise<boolean> {
    const right = await this.attempt(email, client, async () =>
      (await check()) ? true : undefined,
    );
    return right === true;
  }

  /**
   * Counts a failed attempt on the account before the secret is checked, and refuses with
   * 429 once 10 failed from this source (or 100 from anywhere) — counting first makes the
   * check and the count one atomic step, so parallel guesses cannot slip past the limit. An
   * unknown address is counted exactly like a known one. A success gives the count back.
   */
  async #reserve(email: string, client: ClientContext): Promise<ReservedFailure> {
    const account = normalizeEmail(email).slice(0, 320);
    const accountSource = `${account}|${client.ip ?? 'unknown'}`;
    const fromSource = await this.limits.consume('signin_account_ip', accountSource);
    try {
      await this.limits.consume('signin_account', account);
    } catch (error) {
      await this.limits.refund('signin_account_ip', accountSource);
      throw error;
    }
    return { account, accountSource, fromSource };
  }

  /**
   * The right secret from this source: its failures there are forgiven; the account's count
   * from all sources only gets this attempt back (others may still be guessing).
   */
  async #forgive(reserved: ReservedFailure): Promise<void> {
    await this.limits.clear('signin_account_ip', reserved.accountSource);
    await this.limits.refund('signin_account', reserved.account);
  }
}
