import { readFile } from 'node:fs/promises';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { signUp } from '../../test/app.js';
import { launchBrowser } from '../../test/browser.js';
import { cleanUpAfter } from '../../test/cleanup.js';
import { freePort } from '../../test/free-port.js';
import { BrowserOAuthProvider, connectMcpClient } from '../../test/mcp-client.js';
import {
  type Agent,
  chromiumAgent,
  injectAgent,
  startCallbackServer,
} from '../../test/oidc-flow.js';
import { InjectBrowser } from '../../test/oidc-pages.js';
import { startOidcApp } from '../../test/oidc.js';
import { createMcpServer } from './server.js';

// The headline of MCP authorization, judged by the official SDK's client: an agent pointed at
// nothing but an MCP server's URL gets 401, follows the RFC 9728 challenge to Hyperion, registers
// itself (RFC 7591), sends the person through /login and /consent with `resource` (RFC 8707),
// and calls a tool; the token is for that server alone. The server is this folder's example,
// protected by @hyperion-auth/verify — the very file the README quotes.

const browser = await launchBrowser();
const t = await startOidcApp({ env: { OAUTH_DYNAMIC_REGISTRATION: 'public' } });

interface RunningMcp {
  resource: string;
  metadataUrl: string;
}

/** Registers a protected API for an MCP server on a free port, and starts the example there. */
async function startMcp(name: string): Promise<RunningMcp> {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const created = await t.app.inject({
    method: 'POST',
    url: '/api/admin/resources',
    headers: t.admin,
    payload: {
      identifier: resource,
      name,
      scopes: [
        { name: 'mcp:tools', description: `Use the tools of ${name}` },
        { name: 'mcp:admin', description: `Read the admin reports of ${name}` },
      ],
    },
  });
  if (created.statusCode !== 201) throw new Error(`resource: ${created.body}`);
  const server = await createMcpServer({ issuer: t.issuer, resource, port });
  cleanUpAfter(() => server.close());
  return {
    resource,
    metadataUrl: `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`,
  };
}

const team = await startMcp('Team MCP server');
const billing = await startMcp('Billing MCP server');

/** A JSON-RPC call straight over HTTP, to see the status and challenge the SDK reacts to. */
function post(resource: string, token: string | undefined, body: Record<string, unknown>) {
  return fetch(resource, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, ...body }),
  });
}

const callAdminReport = { method: 'tools/call', params: { name: 'admin_report', arguments: {} } };

/** A tool's JSON answer. */
async function callTool(client: Client, name: string): Promise<Record<string, unknown>> {
  const result = await client.callTool({ name });
  const [first] = result.content as { type: string; text: string }[];
  return JSON.parse(first?.text ?? 'null') as Record<string, unknown>;
}

function injectAgentFor(): Agent {
  return injectAgent(new InjectBrowser(t.app, t.issuer));
}

const REDIRECT = 'http://127.0.0.1:9/callback';

describe.skipIf(!browser)('an MCP agent with the SDK and Chromium', () => {
  it('finds Hyperion from the 401, registers, has the person sign in and consent, and calls whoami; aud is the server', async () => {
    const { redirectUri } = await startCallbackServer();
    const context = await browser!.newContext();
    cleanUpAfter(() => context.close());
    const person = await signUp(t.app);
    const provider = new BrowserOAuthProvider(
      chromiumAgent(await context.newPage(), redirectUri),
      person,
      redirectUri,
    );

    // The SDK is told the MCP server's URL and nothing else.
    const client = await connectMcpClient(team.resource, provider);
    cleanUpAfter(() => client.close());
    const whoami = await callTool(client, 'whoami');

    // It registered itself (RFC 7591) and asked for this server with PKCE.
    const clientId = (await provider.clientInformation())?.client_id;
    expect(clientId).toMatch(/^hc_/);
    expect((await t.deps.services.oauthClients.findClient(clientId!))?.registration).toBe(
      'dynamic',
    );
    const [asked] = provider.authorizationUrls;
    expect(asked?.origin).toBe(t.issuer);
    expect(asked?.searchParams.get('resource')).toBe(team.resource);
    expect(asked?.searchParams.get('scope')).toBe('mcp:tools');
    expect(asked?.searchParams.get('code_challenge_method')).toBe('S256');
    // The person signed in and consented in the real pages; consent named the server.
    const [flow] = provider.flows;
    expect(flow?.seen.map((seen) => seen.page)).toEqual(['login', 'consent']);
    expect(flow?.seen[1]?.html).toContain('Team MCP server');
    expect(flow?.seen[1]?.html).toContain('Use the tools of Team MCP server');

    expect(whoami).toEqual({ sub: person.user.id, client_id: clientId, scopes: ['mcp:tools'] });
    const claims = decodeJwt(provider.accessToken);
    expect(claims.aud).toBe(team.resource);
    expect(claims.iss).toBe(t.issuer);
    expect(claims.sub).toBe(person.user.id);
  });
});

describe('an MCP agent with the SDK (inject browser)', () => {
  it('answers 401 with the RFC 9728 challenge, and serves metadata naming Hyperion', async () => {
    const refused = await post(team.resource, undefined, { method: 'tools/list' });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${team.metadataUrl}", scope="mcp:tools"`,
    );
    const metadata = await (await fetch(team.metadataUrl)).json();
    expect(metadata).toMatchObject({
      resource: team.resource,
      authorization_servers: [t.issuer],
      scopes_supported: ['mcp:tools', 'mcp:admin'],
    });
  });

  it("refuses a token meant for another MCP server (401 invalid_token); that server's own token works", async () => {
    const person = await signUp(t.app);
    const agent = injectAgentFor();
    const forTeam = new BrowserOAuthProvider(agent, person, REDIRECT);
    const teamClient = await connectMcpClient(team.resource, forTeam);
    cleanUpAfter(() => teamClient.close());
    expect(decodeJwt(forTeam.accessToken).aud).toBe(team.resource);

    // The same token at the billing server: not for it.
    const refused = await post(billing.resource, forTeam.accessToken, { method: 'tools/list' });
    expect(refused.status).toBe(401);
    const challenge = refused.headers.get('www-authenticate');
    expect(challenge).toContain('error="invalid_token"');
    expect(challenge).toContain(`resource_metadata="${billing.metadataUrl}"`);

    // The agent gets one of its own for billing: same person, no second sign-in, a consent
    // naming billing.
    const forBilling = new BrowserOAuthProvider(agent, person, REDIRECT);
    const billingClient = await connectMcpClient(billing.resource, forBilling);
    cleanUpAfter(() => billingClient.close());
    expect(await callTool(billingClient, 'whoami')).toMatchObject({ sub: person.user.id });
    expect(decodeJwt(forBilling.accessToken).aud).toBe(billing.resource);
    expect(forBilling.flows[0]?.seen.map((seen) => seen.page)).toEqual(['consent']);
    expect(forBilling.flows[0]?.seen[0]?.html).toContain('Billing MCP server');
    // And the billing token is no good at the team server.
    const back = await post(team.resource, forBilling.accessToken, { method: 'tools/list' });
    expect(back.status).toBe(401);
  });

  it('a tool needing more scope: 403 insufficient_scope naming every scope; the SDK steps up through consent', async () => {
    const person = await signUp(t.app);
    const provider = new BrowserOAuthProvider(injectAgentFor(), person, REDIRECT);
    const client = await connectMcpClient(team.resource, provider);
    cleanUpAfter(() => client.close());

    const refused = await post(team.resource, provider.accessToken, callAdminReport);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", resource_metadata="${team.metadataUrl}"`,
    );

    // The SDK reads the 403 and asks for the larger scope: the person is asked again.
    await expect(client.callTool({ name: 'admin_report' })).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    expect(provider.authorizationUrls[1]?.searchParams.get('scope')).toBe('mcp:tools mcp:admin');
    expect(provider.flows[1]?.seen.map((seen) => seen.page)).toEqual(['consent']);
    expect(provider.flows[1]?.seen[0]?.html).toContain('Read the admin reports of Team MCP server');
    const transport = client.transport as StreamableHTTPClientTransport;
    await transport.finishAuth(provider.takeCode());

    expect(await callTool(client, 'admin_report')).toEqual({
      report: 'all systems normal',
      for: person.user.id,
    });
    const claims = decodeJwt(provider.accessToken);
    expect(claims['scope']).toBe('mcp:tools mcp:admin');
    expect(claims.aud).toBe(team.resource);
  });

  it('an agent that asked for offline_access refreshes an expired token by itself (rotated, same aud)', async () => {
    const person = await signUp(t.app);
    const provider = new BrowserOAuthProvider(injectAgentFor(), person, REDIRECT);
    // Authorized an hour ago (the provider's clock), so its access token has expired now.
    t.clock.advance(-3600);
    try {
      const scope = 'mcp:tools offline_access';
      expect(await auth(provider, { serverUrl: team.resource, scope })).toBe('REDIRECT');
      const authorizationCode = provider.takeCode();
      expect(await auth(provider, { serverUrl: team.resource, scope, authorizationCode })).toBe(
        'AUTHORIZED',
      );
    } finally {
      t.clock.advance(3600);
    }
    const first = (await provider.tokens())!;
    expect(first.refresh_token).toEqual(expect.any(String));
    expect((await post(team.resource, first.access_token, { method: 'tools/list' })).status).toBe(
      401,
    );

    // The SDK meets the 401 and refreshes (with `resource`) without the person.
    const client = await connectMcpClient(team.resource, provider);
    cleanUpAfter(() => client.close());
    expect(await callTool(client, 'whoami')).toMatchObject({ sub: person.user.id });
    expect(provider.flows).toHaveLength(1);
    const second = (await provider.tokens())!;
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    expect(decodeJwt(second.access_token).aud).toBe(team.resource);
  });
});

describe('the README', () => {
  it('quotes this server as it is (each TypeScript block of its MCP section is in server.ts)', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('## AI agents and MCP');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
    expect(blocks.length).toBeGreaterThan(0);
    // Compared line by line without indentation, which the README's formatter takes away.
    const lines = (code: string) =>
      code
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean)
        .join('\n');
    const source = lines(await readFile(new URL('./server.ts', import.meta.url), 'utf8'));
    for (const block of blocks) expect(source).toContain(lines(block));
  });
});
