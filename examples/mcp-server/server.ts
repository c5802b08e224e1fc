import type { Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { createGuard, createVerifier, sendAnswer, toMcpAuthInfo } from '@hyperion-auth/verify';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';

// An MCP server (Streamable HTTP, the official SDK) whose every request needs an access
// token Hyperion issued for it: `aud` its own URL, scope `mcp:tools`, and `mcp:admin` for
// the admin tool. It serves RFC 9728 metadata naming Hyperion as its authorization server
// and answers 401/403 with the challenge MCP clients follow, so an agent pointed at its URL
// finds everything else by itself.

export interface McpServerOptions {
  /** Hyperion's PUBLIC_URL. */
  issuer: string;
  /** This server's URL, exactly as registered at /api/admin/resources: tokens' `aud`. */
  resource: string;
  port: number;
  /** Listen address (default 127.0.0.1). */
  host?: string;
}

export interface RunningMcpServer {
  close(): Promise<void>;
}

/** What every request needs, and what each tool needs besides. */
export const BASE_SCOPE = 'mcp:tools';
export const TOOL_SCOPES = new Map([['admin_report', ['mcp:admin']]]);

/** The scopes a JSON-RPC message (or batch) needs beyond the base scope. */
function toolScopes(body: unknown): string[] {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  const needed = messages.flatMap((message) => {
    const { method, params } = (message ?? {}) as { method?: unknown; params?: { name?: unknown } };
    return method === 'tools/call' ? (TOOL_SCOPES.get(String(params?.name)) ?? []) : [];
  });
  return [...new Set(needed)];
}

function text(value: unknown) {
  return { content: [{ type: 'text' as const, text: JSON.stringify(value) }] };
}

/** The tools; `extra.authInfo` is the verified token. */
function mcpServer(): McpServer {
  const server = new McpServer({ name: 'hyperion-example', version: '1.0.0' });
  server.registerTool(
    'whoami',
    { description: 'The user and client this token speaks for, and its scopes' },
    async ({ authInfo }) =>
      text({
        sub: authInfo?.extra?.['sub'],
        client_id: authInfo?.clientId,
        scopes: authInfo?.scopes,
      }),
  );
  server.registerTool(
    'admin_report',
    { description: 'A report for administrators (needs mcp:admin)' },
    async ({ authInfo }) => text({ report: 'all systems normal', for: authInfo?.extra?.['sub'] }),
  );
  return server;
}

export async function createMcpServer(options: McpServerOptions): Promise<RunningMcpServer> {
  const host = options.host ?? '127.0.0.1';
  const path = new URL(options.resource).pathname;
  const verifier = createVerifier({ issuer: options.issuer, audience: options.resource });
  const guard = createGuard({
    verifier,
    scopes: [BASE_SCOPE],
    scopesSupported: [BASE_SCOPE, ...new Set([...TOOL_SCOPES.values()].flat())],
    resourceName: 'Hyperion example MCP server',
  });

  // Host checked against the resource's (DNS rebinding), then JSON bodies.
  const app = createMcpExpressApp({ host, allowedHosts: [new URL(options.resource).hostname] });
  app.use(async (req: Request & { auth?: AuthInfo }, res: Response, next: NextFunction) => {
    // RFC 9728 metadata at /.well-known/oauth-protected-resource[/mcp], open to all.
    const metadata = guard.metadataAnswer(req.method, req.url);
    if (metadata) return sendAnswer(res, metadata);
    // 401 with the challenge, 403 insufficient_scope naming every scope the call needs.
    const judgement = await guard.judge(req.headers.authorization, toolScopes(req.body));
    if (!judgement.ok) return sendAnswer(res, judgement.answer);
    req.auth = toMcpAuthInfo(judgement.token);
    next();
  });
  app.post(path, async (req: Request & { auth?: AuthInfo }, res: Response) => {
    // Stateless: a server and transport per request, as the SDK's stateless example does.
    const server = mcpServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void Promise.all([transport.close(), server.close()]));
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  app.all(path, (_req, res) => void res.status(405).set('allow', 'POST').end());

  const listening: Server = await new Promise((resolve, reject) => {
    const server = app.listen(options.port, host, () => resolve(server));
    server.once('error', reject);
  });
  return {
    close: async () => {
      await new Promise<void>((resolve, reject) =>
        listening.close((error) => (error ? reject(error) : resolve())),
      );
      await verifier.close();
    },
  };
}
