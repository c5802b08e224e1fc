import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config/config.js';
import type { SigningKeys } from '../../crypto/signing-keys.js';
import { GRANT_TYPES } from '../oauth/grants/index.js';

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

const IssuerMetadata = Type.Object({
  issuer: Type.String(),
  jwks_uri: Type.String(),
  token_endpoint: Type.String(),
  grant_types_supported: Type.Array(Type.String()),
  token_endpoint_auth_methods_supported: Type.Array(Type.String()),
  response_types_supported: Type.Array(Type.String()),
  subject_types_supported: Type.Array(Type.String()),
  id_token_signing_alg_values_supported: Type.Array(Type.String()),
  claims_supported: Type.Array(Type.String()),
  service_documentation: Type.String(),
});

const CLAIMS = [
  'iss',
  'aud',
  'sub',
  'sid',
  'iat',
  'exp',
  'jti',
  'email',
  'roles',
  'scope',
  'client_id',
];

export interface DiscoveryRoutesOptions {
  keys: SigningKeys;
  /** The issuer every advertised URL is built on. */
  config: Pick<Config, 'jwt'>;
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

  app.get(
    '/.well-known/openid-configuration',
    {
      schema: {
        tags: ['discovery'],
        summary: 'Issuer metadata',
        response: { 200: IssuerMetadata },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=3600');
      return {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        token_endpoint: `${issuer}/api/auth/token`,
        // The token endpoint's registry: what it accepts is what is advertised.
        grant_types_supported: [...GRANT_TYPES],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        response_types_supported: ['token'],
        subject_types_supported: ['public'],
        // What live tokens may carry: during an algorithm change, the retiring one too.
        id_token_signing_alg_values_supported: [
          ...new Set([keys.current.algorithm, ...keys.jwks().keys.map((k) => k.alg)]),
        ],
        claims_supported: CLAIMS,
        service_documentation: `${issuer}/docs`,
      };
    },
  );
};
