import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { actorOf } from '../../http/actor.js';
import { problemResponses } from '../../http/schemas.js';
import { PageOf, PageQuery } from '../../lib/schemas.js';
import { noStore } from '../sessions/token-response.js';
import type { OAuthClientsService } from './oauth-clients.service.js';
import {
  ClientIdParams,
  CreateOAuthClientBody,
  OAuthClientSchema,
  OAuthClientWithSecretSchema,
  UpdateOAuthClientBody,
} from './oauth-clients.schemas.js';

const TAGS = ['admin: OAuth clients'];
const READ_PROBLEMS = problemResponses(
  'validation_failed',
  'unauthorized',
  'forbidden',
  'not_found',
);

export const oauthClientsRoutes: FastifyPluginAsyncTypebox<{
  oauthClients: OAuthClientsService;
}> = async (app, { oauthClients }) => {
  app.get(
    '/api/admin/oauth-clients',
    {
      config: { permission: 'oauth_clients:read' },
      schema: {
        tags: TAGS,
        summary: 'List OAuth clients (newest first)',
        querystring: PageQuery,
        response: {
          200: PageOf(OAuthClientSchema),
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden'),
        },
      },
    },
    async (request) => oauthClients.list(request.query),
  );

  app.get(
    '/api/admin/oauth-clients/:client_id',
    {
      config: { permission: 'oauth_clients:read' },
      schema: {
        tags: TAGS,
        summary: 'Get an OAuth client',
        params: ClientIdParams,
        response: { 200: OAuthClientSchema, ...READ_PROBLEMS },
      },
    },
    async (request) => oauthClients.get(request.params.client_id),
  );

  app.post(
    '/api/admin/oauth-clients',
    {
      config: { permission: 'oauth_clients:write' },
      schema: {
        tags: TAGS,
        summary: 'Register an OAuth / OpenID Connect client',
        description:
          'A confidential client gets `client_secret` in this answer, the only time it is ' +
          'shown. Defaults: grant_types authorization_code and refresh_token; scopes openid, ' +
          'profile, email and offline_access. 409 if the client_id asked for is taken.',
        body: CreateOAuthClientBody,
        response: {
          201: OAuthClientWithSecretSchema,
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden', 'conflict'),
        },
      },
    },
    async (request, reply) => {
      // The answer may carry the only copy of the secret: no browser or proxy may keep it.
      noStore(reply);
      return reply.status(201).send(await oauthClients.create(request.body, actorOf(request)));
    },
  );

  app.patch(
    '/api/admin/oauth-clients/:client_id',
    {
      config: { permission: 'oauth_clients:write' },
      schema: {
        tags: TAGS,
        summary: 'Change an OAuth client (the fields given)',
        description:
          '409 for a client whose client_id is a metadata document URL: it changes when its ' +
          'document does.',
        params: ClientIdParams,
        body: UpdateOAuthClientBody,
        response: { 200: OAuthClientSchema, ...READ_PROBLEMS, ...problemResponses('conflict') },
      },
    },
    async (request) =>
      oauthClients.update(request.params.client_id, request.body, actorOf(request)),
  );

  app.post(
    '/api/admin/oauth-clients/:client_id/rotate',
    {
      config: { permission: 'oauth_clients:write' },
      schema: {
        tags: TAGS,
        summary: "Replace a confidential client's secret",
        description:
          'The answer carries the new `client_secret`, shown only here; the old secret stops ' +
          'working at once. 409 for a public client, which has no secret.',
        params: ClientIdParams,
        response: {
          200: OAuthClientWithSecretSchema,
          ...problemResponses(
            'validation_failed',
            'unauthorized',
            'forbidden',
            'not_found',
            'conflict',
          ),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return oauthClients.rotateSecret(request.params.client_id, actorOf(request));
    },
  );

  app.delete(
    '/api/admin/oauth-clients/:client_id',
    {
      config: { permission: 'oauth_clients:write' },
      schema: {
        tags: TAGS,
        summary: 'Delete an OAuth client; its consents go and its tokens stop at once',
        params: ClientIdParams,
        response: { 204: { type: 'null', description: 'Deleted' }, ...READ_PROBLEMS },
      },
    },
    async (request, reply) => {
      await oauthClients.delete(request.params.client_id, actorOf(request));
      return reply.status(204).send(null);
    },
  );
};
