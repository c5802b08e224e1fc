import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config/config.js';
import type { SigningKeys } from '../../crypto/signing-keys.js';
import { GRANT_TYPES } from '../oauth/grants/index.js';
import { OIDC_SCOPES, SCOPE_CLAIMS } from '../oidc/oidc.types.js';

const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'];

// An allow-list: the serializer writes only these members, so a private member (`d`, `p`,
// `k`, …) could not reach the JWKS even if one slipped into a stored public key.
const PublicJwk = Type.Object(
  {
    kty: Type.String(),
    kid: Type.String(),
    alg: Type.String(),
    use: Type.String(),
    crv: Type.Optional(Type.String()),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
    n: Type.Optional(Type.String()),
    e: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
const JwksResponse = Type.Object({ keys: Type.Array(PublicJwk) });

const Strings = Type.Array(Type.String());
const IssuerMetadata = Type.Object({
  issuer: Type.String(),
  authorization_endpoint: Type.String(),
  token_endpoint: Type.String(),
  userinfo_endpoint: Type.String(),
  jwks_uri: Type.String(),
  end_session_endpoint: Type.String(),
  revocation_endpoint: Type.String(),
  introspection_endpoint: Type.String(),
  registration_endpoint: Type.Optional(Type.String()),
  device_authorization_endpoint: Type.String(),
  scopes_supported: Strings,
  response_types_supported: Strings,
  response_modes_supported: Strings,
  grant_types_supported: Strings,
  code_challenge_methods_supported: Strings,
  token_endpoint_auth_methods_supported: Strings,
  revocation_endpoint_auth_methods_supported: Strings,
  introspection_endpoint_auth_methods_supported: Strings,
  id_token_signing_alg_values_supported: Strings,
  subject_types_supported: Strings,
  claims_supported: Strings,
  prompt_values_supported: Strings,
  claims_parameter_supported: Type.Boolean(),
  request_parameter_supported: Type.Boolean(),
  request_uri_parameter_supported: Type.Boolean(),
  require_request_uri_registration: Type.Boolean(),
  authorization_response_iss_parameter_supported: Type.Boolean(),
  client_id_metadata_document_supported: Type.Optional(Type.Boolean()),
  frontchannel_logout_supported: Type.Boolean(),
  backchannel_logout_supported: Type.Boolean(),
  service_documentation: Type.String(),
});

// The ID token's and userinfo's claims, and what this service's access tokens carry.
const CLAIMS = [
  'iss',
  'aud',
  'sub',
  'sid',
  'iat',
  'exp',
  'auth_time',
  'nonce',
  'amr',
  'at_hash',
  'jti',
  ...new Set(Object.values(SCOPE_CLAIMS).flat()),
  'roles',
  'scope',
  'client_id',
];

export interface DiscoveryRoutesOptions {
  keys: SigningKeys;
  /** The issuer every advertised URL is built on. */
  config: Pick<Config, 'jwt' | 'oauthDynamicRegistration' | 'oauthCimd'>;
}

export const discoveryRoutes: FastifyPluginAsyncTypebox<DiscoveryRoutesOptions> = async (
  app,
  { config, keys },
) => {
  const issuer = config.jwt.issuer;

  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['discovery'],
        summary: 'Public signing keys (JWK Set)',
        // RFC 7517 §8.5: the media type it is sent with (below).
        produces: ['application/jwk-set+json'],
        response: { 200: JwksResponse },
      },
    },
    async (request, reply) => {
      // Another instance may have rotated; a store that cannot be read right now still
      // leaves the keys read last time, which verifiers need more than ever during an outage.
      await keys.refreshIfStale().catch((error: unknown) => {
        request.log.warn({ err: error }, 'signing keys not refreshed; serving the last ones read');
      });
      // Verifiers may cache for a few minutes. A new key signs at once, so good verifiers
      // (jose's createRemoteJWKSet, for one) refetch when they meet an unknown kid; a retired
      // key stays published until every token it signed has expired.
      reply.header('cache-control', 'public, max-age=300, stale-while-revalidate=60');
      reply.type('application/jwk-set+json');
      return keys.jwks();
    },
  );

  const metadata = () => ({
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/api/auth/token`,
    userinfo_endpoint: `${issuer}/oauth/userinfo`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    end_session_endpoint: `${issuer}/oauth/logout`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    ...(config.oauthDynamicRegistration === 'off'
      ? {}
      : { registration_endpoint: `${issuer}/oauth/register` }),
    device_authorization_endpoint: `${issuer}/oauth/device_authorization`,
    scopes_supported: Object.keys(OIDC_SCOPES),
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    // The token endpoint's registry: what it accepts is what is advertised.
    grant_types_supported: [...GRANT_TYPES],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    // What live tokens may carry: during an algorithm change, the retiring one too.
    id_token_signing_alg_values_supported: [
      ...new Set([keys.current.algorithm, ...keys.jwks().keys.map((k) => k.alg)]),
    ],
    subject_types_supported: ['public'],
    claims_supported: CLAIMS,
    prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    require_request_uri_registration: false,
    authorization_response_iss_parameter_supported: true,
    // An HTTPS client_id naming the client's own metadata (OAUTH_CIMD).
    ...(config.oauthCimd ? { client_id_metadata_document_supported: true } : {}),
    frontchannel_logout_supported: false,
    backchannel_logout_supported: false,
    service_documentation: `${issuer}/docs`,
  });

  // One document at both addresses: OpenID Connect Discovery and RFC 8414 (which MCP and
  // OAuth-only clients read).
  for (const [path, summary] of [
    ['/.well-known/openid-configuration', 'OpenID Provider metadata (OpenID Connect Discovery)'],
    ['/.well-known/oauth-authorization-server', 'Authorization server metadata (RFC 8414)'],
  ] as const) {
    app.get(
      path,
      { schema: { tags: ['discovery'], summary, response: { 200: IssuerMetadata } } },
      async (_request, reply) => {
        reply.header('cache-control', 'public, max-age=3600');
        return metadata();
      },
    );
  }
};
