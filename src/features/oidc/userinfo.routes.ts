import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { VerifiedAccessToken } from '../../crypto/access-tokens.js';
import { AppError } from '../../errors.js';
import { readBearerToken } from '../../http/authenticate.js';
import { problemResponses } from '../../http/schemas.js';
import { acceptFormBodies } from '../../http/strict-text.js';
import type { UserInfoService } from './userinfo.service.js';

const UserInfoSchema = Type.Object({
  sub: Type.String(),
  name: Type.Optional(Type.String()),
  picture: Type.Optional(Type.String()),
  locale: Type.Optional(Type.String()),
  zoneinfo: Type.Optional(Type.String()),
  updated_at: Type.Optional(Type.Integer()),
  email: Type.Optional(Type.String()),
  email_verified: Type.Optional(Type.Boolean()),
  phone_number: Type.Optional(Type.String()),
});

export interface UserInfoRoutesOptions {
  userInfo: Pick<UserInfoService, 'claimsFor'>;
  /** The token checked as every route checks it: valid now, its session live. */
  verifyLiveAccessToken(raw: string): Promise<VerifiedAccessToken>;
}

/** RFC 6750 §3: what a resource server tells a client whose token it refuses. */
function bearerError(
  error: 'invalid_token' | 'invalid_request' | 'insufficient_scope',
  detail: string,
) {
  const code =
    error === 'insufficient_scope'
      ? 'forbidden'
      : error === 'invalid_request'
        ? 'validation_failed'
        : 'unauthorized';
  return new AppError(code, detail, undefined, {
    'www-authenticate': `Bearer error="${error}", error_description="${detail}"`,
  });
}

/** The access token: in the Authorization header, or (POST, RFC 6750 §2.2) in the form body. */
function tokenOf(request: FastifyRequest): string {
  const header = readBearerToken(request);
  const body: unknown = request.body;
  const field =
    typeof body === 'object' && body !== null
      ? (body as Record<string, unknown>)['access_token']
      : undefined;
  if (field !== undefined && (typeof field !== 'string' || field.length > 8192))
    throw bearerError('invalid_request', 'access_token must be a token');
  const form = field ?? null;
  if (header && form) throw bearerError('invalid_request', 'Send the token one way, not two');
  const token = header ?? form;
  if (!token) {
    throw new AppError('unauthorized', 'A bearer access token is required', undefined, {
      'www-authenticate': 'Bearer realm="hyperion-auth"',
    });
  }
  return token;
}

/** OIDC Core §5.3 UserInfo endpoint, GET and POST. */
export const userInfoRoutes: FastifyPluginAsyncTypebox<UserInfoRoutesOptions> = async (
  app,
  { userInfo, verifyLiveAccessToken },
) => {
  // RFC 6750 §2.2: the form body is read into its fields (the token, and nothing else used).
  acceptFormBodies(app, 'fields');

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const raw = tokenOf(request);
    let token: VerifiedAccessToken;
    try {
      token = await verifyLiveAccessToken(raw);
    } catch (error) {
      if (error instanceof AppError && error.status === 401)
        throw bearerError('invalid_token', 'The access token is not valid');
      throw error;
    }
    const scopes = (token.scope ?? '').split(' ');
    if (!token.sid) throw bearerError('invalid_token', 'A user access token is required');
    if (!scopes.includes('openid'))
      throw bearerError('insufficient_scope', 'The token was not granted the openid scope');
    reply.header('cache-control', 'no-store');
    return userInfo.claimsFor(token.sub, scopes);
  };

  const schema = {
    tags: ['oidc'],
    summary: 'OpenID Connect UserInfo',
    description:
      "The signed-in user as the access token's scopes release: `sub`; `name`, `picture`, " +
      '`locale`, `zoneinfo`, `updated_at` (profile); `email`, `email_verified` (email); ' +
      '`phone_number` (phone). The token comes as a bearer header or, with POST, as ' +
      '`access_token` in a form body.',
    security: [{ bearerAuth: [] }],
    response: { 200: UserInfoSchema, ...problemResponses('unauthorized', 'forbidden') },
  };
  app.get('/oauth/userinfo', { schema }, handler);
  app.post(
    '/oauth/userinfo',
    {
      schema: {
        ...schema,
        // No body schema: the body is optional (the token may come in the header alone),
        // and tokenOf reads the one field it uses.
        consumes: ['application/x-www-form-urlencoded'],
      },
    },
    handler,
  );
};
