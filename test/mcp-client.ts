import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  type OAuthClientProvider,
  UnauthorizedError,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Agent, FlowResult, Person } from './oidc-flow.js';

// An MCP client as an AI agent runs one: the official SDK's client and transport, with an
// OAuthClientProvider whose "open the browser" step is an Agent (real Chromium, or the inject
// browser) carrying the authorization URL through our hosted pages as `person`. Everything
// else — discovery from the MCP server's 401, dynamic registration, PKCE, `resource`, the code
// exchange, refresh, step-up on insufficient_scope — is the SDK's own doing.

/** What a person would see and do in a browser, for the SDK's `redirectToAuthorization`. */
export class BrowserOAuthProvider implements OAuthClientProvider {
  #client: OAuthClientInformationMixed | undefined;
  #tokens: OAuthTokens | undefined;
  #verifier: string | undefined;
  #state: string | undefined;
  #code: string | undefined;
  /** Every trip through the pages, in order (what the consent page showed, where it ended). */
  readonly flows: FlowResult[] = [];
  /** Every authorization URL the SDK built, in order. */
  readonly authorizationUrls: URL[] = [];

  constructor(
    private readonly agent: Agent,
    private readonly person: Person,
    readonly redirectUrl: string,
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'MCP test agent',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state(): string {
    this.#state = randomBytes(16).toString('base64url');
    return this.#state;
  }

  clientInformation() {
    return this.#client;
  }

  saveClientInformation(information: OAuthClientInformationMixed) {
    this.#client = information;
  }

  tokens() {
    return this.#tokens;
  }

  saveTokens(tokens: OAuthTokens) {
    this.#tokens = tokens;
  }

  saveCodeVerifier(verifier: string) {
    this.#verifier = verifier;
  }

  codeVerifier(): string {
    if (this.#verifier === undefined) throw new Error('no code verifier saved');
    return this.#verifier;
  }

  /** The person's part: the pages, then the code from the redirect (checked against state). */
  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizationUrls.push(url);
    const flow = await this.agent.authorize(url, this.person);
    this.flows.push(flow);
    const answer = flow.callback.searchParams;
    const error = answer.get('error');
    if (error)
      throw new Error(`authorization refused: ${error} ${answer.get('error_description')}`);
    if (answer.get('state') !== this.#state) throw new Error('state differs from the request');
    this.#code = answer.get('code') ?? undefined;
  }

  /** The code the last trip brought back, once. */
  takeCode(): string {
    const code = this.#code;
    if (code === undefined) throw new Error('no authorization code arrived');
    this.#code = undefined;
    return code;
  }

  /** The access token the SDK holds now. */
  get accessToken(): string {
    if (!this.#tokens) throw new Error('no tokens');
    return this.#tokens.access_token;
  }
}

/**
 * Runs `attempt` on a transport to `serverUrl`; when the SDK stops for the person
 * (UnauthorizedError: the provider took the browser through the pages), hands the code to
 * `transport.finishAuth` and runs it once more on a fresh transport, as the SDK's own OAuth
 * client example does.
 */
async function withAuthorization<T>(
  serverUrl: string,
  provider: BrowserOAuthProvider,
  attempt: (transport: StreamableHTTPClientTransport) => Promise<T>,
): Promise<T> {
  const transport = new StreamableHTTPClientTransport(new URL(serverUrl), {
    authProvider: provider,
  });
  try {
    return await attempt(transport);
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    await transport.finishAuth(provider.takeCode());
    return attempt(
      new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider }),
    );
  }
}

/** An MCP client connected to `serverUrl`, authorized on the way if it must be. */
export async function connectMcpClient(
  serverUrl: string,
  provider: BrowserOAuthProvider,
): Promise<Client> {
  const client = new Client({ name: 'hyperion-mcp-test', version: '1.0.0' });
  await withAuthorization(serverUrl, provider, (transport) => client.connect(transport));
  return client;
}
