import { Value } from 'typebox/value';
import { AppError, type FieldError } from '../errors.js';
import { OPERATOR } from '../lib/actor.js';
import {
  type CreateOAuthClient,
  CreateOAuthClientBody,
  type OAuthClientView,
} from '../features/oauth-clients/oauth-clients.schemas.js';
import {
  type Command,
  EXIT_OK,
  UsageError,
  parse,
  parseWithPositionals,
  stringOption,
  withDeps,
} from './command.js';

type Values = Record<string, string | boolean | string[] | undefined>;

function text(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A repeatable option; each occurrence may also list several values (`--scope "openid email"`). */
function listOption(values: Values, name: string): string[] | undefined {
  const given = values[name];
  if (given === undefined || typeof given === 'boolean') return undefined;
  return (Array.isArray(given) ? given : [given]).flatMap((value) =>
    value.split(/[\s,]+/).filter(Boolean),
  );
}

/**
 * The CLI is an entry point like the HTTP API: its input goes through the same schema the API
 * validates with, so an operator cannot register what the admin API would refuse.
 */
function checked(input: Record<string, unknown>): CreateOAuthClient {
  if (Value.Check(CreateOAuthClientBody, input)) return input;
  const byField = new Map<string, FieldError>();
  for (const error of Value.Errors(CreateOAuthClientBody, input)) {
    // A value outside an enum fails each literal too; the union's own error says it once.
    if (error.keyword === 'const') continue;
    const field = error.instancePath.replace(/^\//, '').replaceAll('/', '.') || 'input';
    byField.set(field, { field, message: error.message });
  }
  throw new AppError('validation_failed', 'The client is not valid', [...byField.values()]);
}

export const clientsCreate: Command = {
  summary: 'register an OAuth / OpenID Connect client (prints its secret once)',
  usage:
    'hyperion-auth clients create --name NAME --type confidential|public [--redirect-uri URI...]\n' +
    '    [--post-logout-redirect-uri URI...] [--grant-type TYPE...] [--scope SCOPE...]\n' +
    '    [--first-party] [--client-id ID] [--json]\n\n' +
    'Registers a client that signs its users in with Hyperion. Repeat --redirect-uri (and the\n' +
    'other list options) for more than one value. Redirect URIs are exact: https, http only for\n' +
    'localhost, 127.0.0.1 or [::1], or a private-use scheme (com.example.app:/cb); no fragment,\n' +
    'no wildcard; at least one unless the client only uses the device grant. Grant types:\n' +
    'authorization_code, refresh_token (default both), urn:ietf:params:oauth:grant-type:device_code,\n' +
    'urn:ietf:params:oauth:grant-type:token-exchange. Scopes: openid,\n' +
    'profile, email, phone, offline_access (default all but phone). --first-party skips the\n' +
    'consent page. The client id is generated unless --client-id names one. A confidential\n' +
    "client's secret is printed once, now: only its hash is kept.",
  async run(args, env, io) {
    const values = parse(args, {
      name: { type: 'string' },
      type: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      'grant-type': { type: 'string', multiple: true },
      scope: { type: 'string', multiple: true },
      'first-party': { type: 'boolean' },
      'client-id': { type: 'string' },
      json: { type: 'boolean' },
    }) as Values;
    const name = text(values, 'name');
    if (!name) throw new UsageError('--name is required');
    const type = text(values, 'type');
    if (type !== 'confidential' && type !== 'public')
      throw new UsageError('--type is confidential or public');
    // Required by the registry for the code flow, not for a device-only client.
    const redirectUris = values['redirect-uri'];
    const postLogout = values['post-logout-redirect-uri'];
    const grantTypes = listOption(values, 'grant-type');
    const scopes = listOption(values, 'scope');
    const clientId = text(values, 'client-id');
    const input = checked({
      name,
      type,
      ...(Array.isArray(redirectUris) ? { redirect_uris: redirectUris } : {}),
      ...(Array.isArray(postLogout) ? { post_logout_redirect_uris: postLogout } : {}),
      ...(grantTypes ? { grant_types: grantTypes } : {}),
      ...(scopes ? { scopes } : {}),
      ...(values['first-party'] ? { first_party: true } : {}),
      ...(clientId !== undefined ? { client_id: clientId } : {}),
    });
    return withDeps(env, async (deps) => {
      const created = await deps.services.oauthClients.create(input, OPERATOR);
      if (values['json']) {
        io.out(JSON.stringify(created));
        return EXIT_OK;
      }
      io.out(`created ${created.type} client ${created.client_id} (${created.name})`);
      if (created.client_secret !== undefined) {
        io.out(`client_secret: ${created.client_secret}`);
        io.out('The secret is shown only now: store it. Only its hash is kept.');
      }
      return EXIT_OK;
    });
  },
};

function describeClient(client: OAuthClientView): string {
  return [
    client.client_id,
    client.name,
    client.type,
    client.first_party ? 'yes' : 'no',
    client.redirect_uris.join(','),
    client.created_at,
  ].join('\t');
}

export const clientsList: Command = {
  summary: 'list OAuth clients, newest first',
  usage:
    'hyperion-auth clients list [--limit N] [--json]\n\n' +
    'Lists registered clients newest first: tab-separated columns (client_id, name, type,\n' +
    'first_party, redirect_uris, created) under a header, or one JSON object per line with\n' +
    '--json. At most --limit clients (default 50). Secrets are never shown.',
  async run(args, env, io) {
    const values = parse(args, { limit: { type: 'string' }, json: { type: 'boolean' } });
    const limitText = stringOption(values, 'limit') ?? '50';
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1) throw new UsageError('--limit is a positive number');
    return withDeps(env, async (deps) => {
      let cursor: string | undefined;
      let printed = 0;
      if (!values['json'])
        io.out(['client_id', 'name', 'type', 'first_party', 'redirect_uris', 'created'].join('\t'));
      do {
        const page = await deps.services.oauthClients.list({
          limit: Math.min(100, limit - printed),
          cursor,
        });
        for (const client of page.items)
          io.out(values['json'] ? JSON.stringify(client) : describeClient(client));
        printed += page.items.length;
        cursor = page.next_cursor ?? undefined;
      } while (cursor && printed < limit);
      return EXIT_OK;
    });
  },
};

export const clientsDelete: Command = {
  summary: 'delete an OAuth client (its consents go, its tokens stop at once)',
  usage:
    'hyperion-auth clients delete CLIENT_ID\n\n' +
    'Deletes the client and every consent given to it, and revokes every grant it holds: its\n' +
    'access and refresh tokens are refused at once by every instance.',
  async run(args, env, io) {
    const clientId = parseWithPositionals(args, {}, 1, 'client id').positionals[0]!;
    return withDeps(env, async (deps) => {
      await deps.services.oauthClients.delete(clientId, OPERATOR);
      io.out(`deleted client ${clientId}`);
      return EXIT_OK;
    });
  },
};
