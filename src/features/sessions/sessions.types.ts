import type { SignInFirstStep } from '../../db/database.js';
import type { UserWithRoles } from '../accounts/accounts.types.js';

/** What a successful sign-in or refresh hands out. */
export interface TokenGrant {
  user: UserWithRoles;
  sessionId: string;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  /** Set when the session is an OAuth client's grant: its tokens are the client's. */
  client?: ClientTokens;
}

/** The client-facing part of a client grant's token response. */
export interface ClientTokens {
  clientId: string;
  /** Space-separated granted scopes. */
  scope: string;
  /** When `openid` was granted. */
  idToken?: string;
}

/** A client grant's session, as its tokens are signed from. */
export interface ClientSessionGrant {
  sessionId: string;
  clientId: string;
  scopes: readonly string[];
  resource: string | null;
  authTime: Date;
  amr: readonly string[];
  /** The browser session it was authorized in (the ID token's `sid`). */
  browserSessionId: string | null;
  /** Only in the ID token of the code exchange (OIDC Core §12.2: not on refresh). */
  nonce: string | null;
}

/**
 * The port through which a refresh signs a client grant's tokens (access token for the
 * client, ID token): implemented by the OIDC feature, so sessions never import it.
 */
export interface ClientTokenSigner {
  sign(
    user: UserWithRoles,
    grant: ClientSessionGrant,
  ): Promise<{ accessToken: string; client: ClientTokens; expiresIn: number }>;
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
/**
 * RFC 8176 methods of a sign-in's first step: a password, or an e-mail link (a one-time
 * secret delivered out of band: `otp`; no password was used, which a client asking for a
 * password-based sign-in sees in the ID token's `amr`).
 */
export const FIRST_STEP_AMR: Readonly<Record<SignInFirstStep, readonly string[]>> = {
  password: ['pwd'],
  email_link: ['otp'],
};

export interface SecondFactorGate {
  /** A challenge when the user must prove a second factor before a session starts, else undefined. */
  challengeFor(
    user: { id: string; mfa_enabled: boolean },
    /** How the sign-in began: a password unless said otherwise (an e-mail link). */
    firstStep?: SignInFirstStep,
  ): Promise<MfaChallenge | undefined>;
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

/** A refresh token as revocation and introspection see it. */
export interface RefreshTokenState {
  sessionId: string;
  userId: string;
  /** The OAuth client it was issued to; null for this service's own sessions. */
  clientId: string | null;
  scopes: string[];
  /** Unspent, unexpired, and its session live. */
  active: boolean;
  expiresAt: Date;
}

/** A page of the revocation feed, as GET /api/auth/revocations answers it. */
export interface RevocationPage {
  items: { session_id: string; revoked_at: string }[];
  next_cursor: string;
}

/** The same page with the cursor after each entry (a live stream's event ids). */
export interface RevocationEntries {
  items: { session_id: string; revoked_at: string; cursor: string }[];
  next_cursor: string;
}
