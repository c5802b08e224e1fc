import type { VerifiedToken } from './token.js';

/**
 * The `AuthInfo` of the MCP TypeScript SDK (`@modelcontextprotocol/sdk/server/auth/types.js`),
 * restated so the kit does not depend on the SDK: what its transports read from `req.auth`.
 */
export interface McpAuthInfo {
  token: string;
  clientId: string;
  scopes: string[];
  expiresAt?: number;
  resource?: URL;
  extra?: Record<string, unknown>;
}

/** A verified token as the MCP SDK's tools see it (`extra.authInfo`). */
export function toMcpAuthInfo(token: VerifiedToken): McpAuthInfo {
  return {
    token: token.token,
    // A user's token names the client it was issued to; a service token is its own client.
    clientId: token.clientId ?? token.sub,
    scopes: [...token.scopes],
    expiresAt: token.expiresAt,
    extra: {
      sub: token.sub,
      ...(token.sessionId ? { sessionId: token.sessionId } : {}),
      ...(token.act ? { act: token.act } : {}),
    },
  };
}
