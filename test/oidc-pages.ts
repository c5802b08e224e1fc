import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Deps } from '../src/deps.js';
import type { CreateOAuthClient } from '../src/features/oauth-clients/oauth-clients.schemas.js';
import { OPERATOR } from '../src/lib/actor.js';

// Helpers for the front channel's tests: a registered client, PKCE, and a cookie-keeping
// "browser" over app.inject that reads the hidden fields of the pages' forms.

export interface TestClient {
  client_id: string;
  redirect_uri: string;
}

let clients = 0;

/** A public client, registered through the registry's service (as the admin API does). */
export async function registerClient(
  deps: Deps,
  options: {
    redirectUri?: string;
    firstParty?: boolean;
    grantTypes?: CreateOAuthClient['grant_types'];
    scopes?: CreateOAuthClient['scopes'];
    name?: string;
  } = {},
): Promise<TestClient> {
  clients += 1;
  const redirectUri = options.redirectUri ?? `https://app${clients}.example/callback`;
  const created = await deps.services.oauthClients.create(
    {
      name: options.name ?? `Test App ${clients}`,
      type: 'public',
      redirect_uris: [redirectUri],
      grant_types: options.grantTypes ?? ['authorization_code', 'refresh_token'],
      scopes: options.scopes ?? ['openid', 'profile', 'email', 'offline_access'],
      first_party: options.firstParty ?? false,
    },
    OPERATOR,
  );
  return { client_id: created.client_id, redirect_uri: redirectUri };
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** A well-formed authorization request's parameters, with overrides (null removes one). */
export function authorizeParams(
  client: TestClient,
  overrides: Record<string, string | null> = {},
): Record<string, string> {
  const params: Record<string, string | null> = {
    client_id: client.client_id,
    redirect_uri: client.redirect_uri,
    response_type: 'code',
    scope: 'openid email',
    state: 'st-123',
    nonce: 'n-456',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== null),
  );
}

export function authorizeUrl(client: TestClient, overrides: Record<string, string | null> = {}) {
  return `/oauth/authorize?${new URLSearchParams(authorizeParams(client, overrides)).toString()}`;
}

/** The value of a hidden (or any) input of a page, by name. */
export function fieldOf(html: string, name: string): string | undefined {
  const match = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`).exec(html);
  return match?.[1]?.replace(/&amp;/g, '&').replace(/&quot;/g, '"');
}

/** The query of a redirect's Location, as a map. */
export function locationParams(response: LightMyRequestResponse): URLSearchParams {
  return new URL(String(response.headers['location']), 'http://auth.test').searchParams;
}

/** A browser over app.inject: keeps cookies, sends them back, never follows redirects. */
export class InjectBrowser {
  readonly cookies = new Map<string, string>();

  /** `origin`: the provider's own origin, which the pages' CSRF check wants on a form post. */
  constructor(
    private readonly app: FastifyInstance,
    private readonly origin = 'http://auth.test',
  ) {}

  async request(options: InjectOptions): Promise<LightMyRequestResponse> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await this.app.inject({
      ...options,
      headers: { ...(cookie ? { cookie } : {}), ...options.headers },
    });
    for (const set of response.cookies) {
      const expired = set.maxAge === 0 || (set.expires && set.expires.getTime() < Date.now());
      if (expired || set.value === '') this.cookies.delete(set.name);
      else this.cookies.set(set.name, set.value);
    }
    return response;
  }

  get(url: string) {
    return this.request({ method: 'GET', url });
  }

  /** Posts a form as a page of ours would (Origin: ours). */
  post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    return this.request({
      method: 'POST',
      url,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: this.origin,
        ...headers,
      },
      payload: new URLSearchParams(fields).toString(),
    });
  }

  /** Submits the form of `page` (its hidden fields, plus these) to `url`. */
  submit(page: LightMyRequestResponse, url: string, fields: Record<string, string> = {}) {
    const hidden: Record<string, string> = {};
    for (const name of ['csrf_token', 'request', 'mfa_token', 'next', 'user_code']) {
      const value = fieldOf(page.body, name);
      if (value !== undefined) hidden[name] = value;
    }
    return this.post(url, { ...hidden, ...fields });
  }
}
