import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { actorOf } from '../../http/actor.js';
import { problemResponses } from '../../http/schemas.js';
import { PageOf, PageQuery } from '../../lib/schemas.js';
import {
  CreateResourceBody,
  ResourceIdParams,
  ResourceSchema,
  UpdateResourceBody,
} from './resources.schemas.js';
import type { ResourcesService } from './resources.service.js';

const TAGS = ['admin: resources'];
const READ = { permission: 'resources:read' };
const WRITE = { permission: 'resources:write' };
const ONE_PROBLEMS = problemResponses(
  'validation_failed',
  'unauthorized',
  'forbidden',
  'not_found',
);

/** `/api/admin/resources`: the protected APIs tokens may be bound to (RFC 8707). */
export const resourcesRoutes: FastifyPluginAsyncTypebox<{ resources: ResourcesService }> = async (
  app,
  { resources },
) => {
  app.get(
    '/api/admin/resources',
    {
      config: READ,
      schema: {
        tags: TAGS,
        summary: 'List protected APIs (newest first)',
        querystring: PageQuery,
        response: {
          200: PageOf(ResourceSchema),
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden'),
        },
      },
    },
    async (request) => resources.list(request.query),
  );

  app.get(
    '/api/admin/resources/:id',
    {
      config: READ,
      schema: {
        tags: TAGS,
        summary: 'Get a protected API',
        params: ResourceIdParams,
        response: { 200: ResourceSchema, ...ONE_PROBLEMS },
      },
    },
    async (request) => resources.get(request.params.id),
  );

  app.post(
    '/api/admin/resources',
    {
      config: WRITE,
      schema: {
        tags: TAGS,
        summary: 'Register a protected API',
        body: CreateResourceBody,
        response: {
          201: ResourceSchema,
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden', 'conflict'),
        },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await resources.create(request.body, actorOf(request))),
  );

  app.patch(
    '/api/admin/resources/:id',
    {
      config: WRITE,
      schema: {
        tags: TAGS,
        summary: 'Change a protected API (name, scopes, token lifetime)',
        params: ResourceIdParams,
        body: UpdateResourceBody,
        response: { 200: ResourceSchema, ...ONE_PROBLEMS },
      },
    },
    async (request) => resources.update(request.params.id, request.body, actorOf(request)),
  );

  app.delete(
    '/api/admin/resources/:id',
    {
      config: WRITE,
      schema: {
        tags: TAGS,
        summary: 'Remove a protected API',
        params: ResourceIdParams,
        response: { 204: { type: 'null', description: 'Removed' }, ...ONE_PROBLEMS },
      },
    },
    async (request, reply) => {
      await resources.delete(request.params.id, actorOf(request));
      return reply.status(204).send(null);
    },
  );
};
