import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceAccountsService } from './service-accounts.service.js';
import { actorOf } from '../../http/actor.js';
import { problemResponses } from '../../http/schemas.js';
import { PageOf, PageQuery } from '../../lib/schemas.js';
import { noStore } from '../sessions/token-response.js';
import {
  CreateServiceAccountBody,
  ServiceAccountIdParams,
  ServiceAccountSchema,
  ServiceAccountWithSecretSchema,
} from './service-accounts.schemas.js';

const TAGS = ['admin: service accounts'];
const READ_PROBLEMS = problemResponses(
  'validation_failed',
  'unauthorized',
  'forbidden',
  'not_found',
);

export const serviceAccountsRoutes: FastifyPluginAsyncTypebox<{
  serviceAccounts: ServiceAccountsService;
}> = async (app, { serviceAccounts }) => {
  app.get(
    '/api/admin/service-accounts',
    {
      config: { permission: 'service_accounts:read' },
      schema: {
        tags: TAGS,
        summary: 'List service accounts (newest first)',
        querystring: PageQuery,
        response: {
          200: PageOf(ServiceAccountSchema),
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden'),
        },
      },
    },
    async (request) => serviceAccounts.list(request.query),
  );

  app.get(
    '/api/admin/service-accounts/:id',
    {
      config: { permission: 'service_accounts:read' },
      schema: {
        tags: TAGS,
        summary: 'Get a service account',
        params: ServiceAccountIdParams,
        response: { 200: ServiceAccountSchema, ...READ_PROBLEMS },
      },
    },
    async (request) => serviceAccounts.get(request.params.id),
  );

  app.post(
    '/api/admin/service-accounts',
    {
      config: { permission: 'service_accounts:write' },
      schema: {
        tags: TAGS,
        summary: 'Create a service account (machine client) with scopes',
        description:
          'The answer carries `client_secret`, the only time it is shown. The client gets ' +
          'tokens from POST /api/auth/token with grant_type=client_credentials.',
        body: CreateServiceAccountBody,
        response: {
          201: ServiceAccountWithSecretSchema,
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden'),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return reply.status(201).send(await serviceAccounts.create(request.body, actorOf(request)));
    },
  );

  app.post(
    '/api/admin/service-accounts/:id/rotate',
    {
      config: { permission: 'service_accounts:write' },
      schema: {
        tags: TAGS,
        summary: 'Replace the client secret',
        description:
          'The answer carries the new `client_secret`, shown only here; tokens issued ' +
          'before stop working.',
        params: ServiceAccountIdParams,
        response: { 200: ServiceAccountWithSecretSchema, ...READ_PROBLEMS },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return serviceAccounts.rotate(request.params.id, actorOf(request));
    },
  );

  app.delete(
    '/api/admin/service-accounts/:id',
    {
      config: { permission: 'service_accounts:write' },
      schema: {
        tags: TAGS,
        summary: 'Delete a service account; its tokens stop working at once',
        params: ServiceAccountIdParams,
        response: { 204: { type: 'null', description: 'Deleted' }, ...READ_PROBLEMS },
      },
    },
    async (request, reply) => {
      await serviceAccounts.delete(request.params.id, actorOf(request));
      return reply.status(204).send(null);
    },
  );
};
