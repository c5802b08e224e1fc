import { type GuardOptions, createGuard } from './guard.js';
import type { VerifiedToken } from './token.js';

/** The parts of a Fastify request, reply and instance the plugin uses (no Fastify dependency). */
export interface FastifyLikeRequest {
  url: string;
  method: string;
  headers: { authorization?: string | undefined };
  routeOptions: { config?: unknown };
}
export interface FastifyLikeReply {
  code(status: number): FastifyLikeReply;
  headers(values: Record<string, string>): FastifyLikeReply;
  send(payload?: unknown): FastifyLikeReply;
}
export interface FastifyLikeInstance {
  decorateRequest(name: string, value: unknown): unknown;
  hasRequestDecorator(name: string): boolean;
  addHook(
    name: 'onRequest',
    hook: (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<unknown>,
  ): unknown;
  get(
    path: string,
    handler: (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<unknown>,
  ): unknown;
}

/**
 * Fastify plugin: every route of the context it is registered in needs a good token
 * (`request.auth`), the RFC 9728 metadata is served (public) at its well-known paths, and a
 * route can ask for more scopes with `config: { scopes: ['files:read'] }`. Like a plugin
 * wrapped by fastify-plugin, it is not encapsulated: register it inside the scope to protect.
 */
export const hyperionAuth = Object.assign(
  async (app: FastifyLikeInstance, options: GuardOptions): Promise<void> => {
    const guard = createGuard(options);
    if (!app.hasRequestDecorator('auth')) app.decorateRequest('auth', undefined);
    for (const path of guard.metadataPaths)
      app.get(path, async (_request, reply) => reply.code(200).send(guard.metadata));
    app.addHook('onRequest', async (request, reply) => {
      if (guard.metadataAnswer(request.method, request.url)) return;
      const judgement = await guard.judge(request.headers.authorization, routeScopes(request));
      if (!judgement.ok)
        return reply
          .code(judgement.answer.status)
          .headers(judgement.answer.headers)
          .send(judgement.answer.body);
      (request as FastifyLikeRequest & { auth?: VerifiedToken }).auth = judgement.token;
      return undefined;
    });
  },
  // fastify-plugin's marker: the hook and decorator reach the routes of the parent context.
  { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'hyperion-auth' },
);

function routeScopes(request: FastifyLikeRequest): readonly string[] {
  const scopes = (request.routeOptions.config as { scopes?: unknown } | undefined)?.scopes;
  return Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string') : [];
}
