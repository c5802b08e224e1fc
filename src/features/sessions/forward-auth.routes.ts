import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ResourcesService } from '../resources/resources.service.js';
import { AppError } from '../../errors.js';
import {
  type BearerCaller,
  type CallerVerifier,
  readBearerToken,
  resolveBearer,
} from '../../http/authenticate.js';
import { sendProblem } from '../../http/problem.js';
import { problemResponses } from '../../http/schemas.js';

const ForwardAuthBody = Type.Object({
  user_id: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(Type.String()),
  scope: Type.Optional(
    Type.String({ description: "A service token's scopes still in force, space-separated" }),
  ),
});

/**
 * Forward auth for gateways (nginx `auth_request`, Traefik `forwardAuth`): 200 with the
 * caller's identity in headers the gateway copies upstream, 401 otherwise. It runs on
 * every request the gateway proxies, so it does only the token check and the session
 * check, never a user lookup.
 */
export interface ForwardAuthOptions {
  /** The route hook's own verifier (app.ts), so a gateway is told what a route would be. */
  verifier: CallerVerifier;
  /** The protected APIs (the resources feature): what a refused client is pointed to. */
  challenges: Pick<ResourcesService, 'challengeFor'>;
}

/**
 * The URL the gateway was asked for: nginx sends it whole (`X-Original-URL`), Traefik and
 * others the path (`X-Forwarded-Uri`) with `X-Forwarded-Proto` and `X-Forwarded-Host`.
 * It chooses the challenge, and which registered resource's tokens count (below): the
 * gateway must set these headers itself, as the README's configurations do.
 */
function forwardedUrl(request: FastifyRequest): string | undefined {
  const header = (name: string) => {
    const value = request.headers[name];
    return typeof value === 'string' && value.length <= 2048 ? value : undefined;
  };
  const original = header('x-original-url');
  if (original && /^https?:\/\//i.test(original)) return original;
  const path = header('x-forwarded-uri') ?? original;
  if (!path?.startsWith('/')) return undefined;
  const host = header('x-forwarded-host') ?? header('host');
  const proto = header('x-forwarded-proto') ?? 'https';
  return host ? `${proto}://${host}${path}` : undefined;
}

/**
 * The caller, by a token for this service (JWT_AUDIENCE) or — for a URL under a registered
 * protected API, such as an MCP server behind the gateway — by a token bound to that API
 * (RFC 8707: its `aud` is the API's identifier), which is what its clients are given. Tried
 * only once the first check has failed, so the usual request costs one verification.
 */
async function resolveForwardedCaller(
  request: FastifyRequest,
  raw: string,
  { verifier, challenges }: ForwardAuthOptions,
): Promise<BearerCaller> {
  try {
    return await resolveBearer(verifier, raw, { serviceTokens: true });
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== 'unauthorized') throw error;
    const url = forwardedUrl(request);
    const resource = url ? await challenges.challengeFor(url) : undefined;
    if (!resource) throw error;
    return resolveBearer(verifier, raw, { serviceTokens: true, audiences: [resource.identifier] });
  }
}

/** RFC 6750, and RFC 9728 §5.1 when the request was for a registered protected API. */
async function challengeHeader(
  request: FastifyRequest,
  challenges: ForwardAuthOptions['challenges'],
): Promise<string> {
  const url = forwardedUrl(request);
  const challenge = url ? await challenges.challengeFor(url) : undefined;
  if (!challenge) return `Bearer realm="hyperion-auth", error="invalid_token"`;
  const scope = challenge.scope ? `, scope="${challenge.scope}"` : '';
  return `Bearer resource_metadata="${challenge.resourceMetadata}"${scope}`;
}

export const forwardAuthRoutes: FastifyPluginAsyncTypebox<ForwardAuthOptions> = async (
  app,
  { verifier, challenges },
) => {
  app.get(
    '/api/auth/verify',
    {
      // Only what a gateway's check needs: no browser security headers (the request id and
      // the metrics stay). They were about a tenth of this route's CPU.
      config: { browserHeaders: false },
      schema: {
        tags: ['sessions'],
        summary: 'Forward-auth check for a gateway',
        description:
          '200 with X-User-Id, X-User-Email and X-User-Roles (comma-separated) for a valid ' +
          'bearer token; service tokens also get X-Auth-Scope (and `scope` in the body). When ' +
          'X-Original-URL (or X-Forwarded-Uri) lies under a registered protected API, a token ' +
          'bound to that API (its `aud`) counts too, and a 401 carries its RFC 9728 challenge. ' +
          '401 otherwise.',
        security: [{ bearerAuth: [] }],
        response: { 200: ForwardAuthBody, ...problemResponses('unauthorized', 'token_expired') },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      try {
        const raw = readBearerToken(request);
        if (!raw) throw new AppError('unauthorized', 'A bearer token is required');
        // A service token is checked against its account as it is now (deleted, rotated),
        // and only the scopes the account still holds pass.
        const caller = await resolveForwardedCaller(request, raw, { verifier, challenges });
        const { token } = caller;
        const scopes = caller.kind === 'service' ? caller.scopes : undefined;
        reply.header('x-user-id', token.sub);
        if (token.email) reply.header('x-user-email', token.email);
        reply.header('x-user-roles', token.roles.join(','));
        if (scopes !== undefined) reply.header('x-auth-scope', scopes.join(' '));
        return reply.status(200).send({
          user_id: token.sub,
          email: token.email ?? null,
          roles: token.roles,
          ...(scopes !== undefined ? { scope: scopes.join(' ') } : {}),
        });
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        // RFC 6750 (and RFC 9728 for a registered API): tell the client how to authenticate
        // and where; the gateway passes it through. An MCP client finds us from here.
        reply.header('www-authenticate', await challengeHeader(request, challenges));
        return sendProblem(request, reply, error);
      }
    },
  );
};
