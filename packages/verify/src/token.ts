import type { JWTPayload } from 'jose';

/** An access token that checked out: who it speaks for and what it allows. */
export interface VerifiedToken {
  /** The raw token, for passing on (an MCP SDK `AuthInfo.token`); never log it. */
  token: string;
  /** The user id, or a service account's client id. */
  sub: string;
  /** From the `scope` claim. */
  scopes: string[];
  /** RFC 9068 `client_id`: the OAuth client the token was issued to. */
  clientId?: string;
  /** `sid`: the session the token belongs to (absent on service tokens). */
  sessionId?: string;
  /** RFC 8693 `act`: who acts on the subject's behalf (a token exchange). */
  act?: { sub: string; [claim: string]: unknown };
  /** `aud`, always as a list. */
  audience: string[];
  /** `exp`, in seconds since the epoch. */
  expiresAt: number;
  /** Every claim, as signed. */
  claims: JWTPayload;
}
