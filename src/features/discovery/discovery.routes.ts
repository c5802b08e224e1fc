import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';

const JwksResponse = Type.Object({
  keys: Type.Array(Type.Object({}, { additionalProperties: true })),
});

const GRANT_TYPES = ['password', 'refresh_token', 'client_credentials'];

export const discoveryRoutes: FastifyPluginAsyncTypebox<{ deps: Deps }> = async (app, { deps }) => {
  const { config, keys } = deps;
  const issuer = config.jwt.issuer;

  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['discovery'],
        summary: 'Public signing keys (JWK Set)',
        response: { 200: JwksResponse },
      },
    },
    async (_request, reply) => {
      // Verifiers may cache for a few minutes; a rotated-in key is published before it signs
      // anything others must verify, and unknown kids make good verifiers refetch.
      reply.header('cache-control', 'public, max-age=300, stale-while-revalidate=60');
      reply.type('application/jwk-set+json');
      return keys.jwks();
    },
  );

  app.get(
    '/.well-known/openid-configuration',
    { schema: { tags: ['discovery'], summary: 'Issuer metadata' } },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=3600');
      return {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        token_endpoint: `${issuer}/api/auth/token`,
        grant_types_supported: GRANT_TYPES,
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        response_types_supported: ['token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [config.jwt.algorithm],
        claims_supported: [
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
        ],
        service_documentation: `${issuer}/docs`,
      };
    },
  );
};
