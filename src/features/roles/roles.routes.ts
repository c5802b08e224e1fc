import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RolesService } from './roles.service.js';
import { actorOf } from '../../http/actor.js';
import { problemResponses } from '../../http/schemas.js';
import { PageOf, PageQuery } from '../../lib/schemas.js';
import { CreateRoleBody, RoleNameParams, RoleSchema, UpdateRoleBody } from './roles.schemas.js';

const TAGS = ['admin: roles'];

export const rolesRoutes: FastifyPluginAsyncTypebox<{ roles: RolesService }> = async (
  app,
  { roles },
) => {
  app.get(
    '/api/admin/roles',
    {
      config: { permission: 'roles:read' },
      schema: {
        tags: TAGS,
        summary: 'List roles (by name)',
        querystring: PageQuery,
        response: {
          200: PageOf(RoleSchema),
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden'),
        },
      },
    },
    async (request) => roles.list(request.query),
  );

  app.get(
    '/api/admin/roles/:name',
    {
      config: { permission: 'roles:read' },
      schema: {
        tags: TAGS,
        summary: 'Get a role',
        params: RoleNameParams,
        response: {
          200: RoleSchema,
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden', 'not_found'),
        },
      },
    },
    async (request) => roles.get(request.params.name),
  );

  app.post(
    '/api/admin/roles',
    {
      config: { permission: 'roles:write' },
      schema: {
        tags: TAGS,
        summary: 'Create a role',
        body: CreateRoleBody,
        response: {
          201: RoleSchema,
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden', 'conflict'),
        },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await roles.create(request.body, actorOf(request))),
  );

  app.patch(
    '/api/admin/roles/:name',
    {
      config: { permission: 'roles:write' },
      schema: {
        tags: TAGS,
        summary: "Change a role's description or permissions",
        description: "The `admin` role's permissions (`*`) cannot change.",
        params: RoleNameParams,
        body: UpdateRoleBody,
        response: {
          200: RoleSchema,
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
    async (request) => roles.update(request.params.name, request.body, actorOf(request)),
  );

  app.delete(
    '/api/admin/roles/:name',
    {
      config: { permission: 'roles:write' },
      schema: {
        tags: TAGS,
        summary: 'Delete a role (users and groups lose it)',
        description: 'The built-in `admin` and `user` roles cannot be deleted.',
        params: RoleNameParams,
        response: {
          204: { type: 'null', description: 'Deleted' },
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
      await roles.delete(request.params.name, actorOf(request));
      return reply.status(204).send(null);
    },
  );
};
