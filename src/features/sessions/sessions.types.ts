import type { UserWithRoles } from '../accounts/accounts.types.js';

/** What a successful sign-in or refresh hands out. */
export interface TokenGrant {
  user: UserWithRoles;
  sessionId: string;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** A live browser session: the person signed in at the hosted /login page. */
export interface BrowserSession {
  id: string;
  userId: string;
  /** When they last proved who they are (OIDC `auth_time`). */
  authTime: Date;
  /** RFC 8176 methods of that proof (`pwd`, `otp`, `mfa`). */
  amr: string[];
}

/** A browser session just opened, with the cookie that carries it (shown nowhere else). */
export interface BrowserSignIn {
  session: BrowserSession;
  cookieToken: string;
  maxAgeSeconds: number;
}

/** The password checked out, but the account has MFA: a second factor is due (POST /api/auth/mfa/verify). */
export interface MfaChallenge {
  mfaRequired: true;
  mfaToken: string;
  expiresIn: number;
  /** The kinds of second factor the user holds, to answer with (e.g. `totp`, `recovery_code`). */
  factors: string[];
}

/**
 * The port through which sign-in hands over to a second factor. Sign-in only asks; the MFA
 * feature implements it (wired in deps.ts), so sign-in never imports MFA and a new factor
 * (passkeys) changes nothing here.
 */
export interface SecondFactorGate {
  /** A challenge when the user must prove a second factor before a session starts, else undefined. */
  challengeFor(user: { id: string; mfa_enabled: boolean }): Promise<MfaChallenge | undefined>;
}

export interface SessionView {
  id: string;
  created_at: string;
  last_used_at: string;
  user_agent: string | null;
  ip: string | null;
  current: boolean;
}

/** One answer for every refresh token that cannot be used, so none says why. */
export const INVALID_REFRESH = 'The refresh token is not valid';

const USER_AGENT_MAX = 512;

/** A session keeps at most 512 characters of the user agent: a client sets it, unbounded. */
export function trimUserAgent(userAgent: string | null): string | null {
  return userAgent ? userAgent.slice(0, USER_AGENT_MAX) : null;
}
