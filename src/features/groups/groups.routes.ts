import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { GroupsService } from './groups.service.js';
import { actorOf } from '../../http/actor.js';
import { problemResponses } from '../../http/schemas.js';
import { PageOf, PageQuery } from '../../lib/schemas.js';
import { UserSchema } from '../accounts/accounts.schemas.js';
import {
  AddMemberBody,
  CreateGroupBody,
  GroupIdParams,
  GroupMemberParams,
  GroupSchema,
  UpdateGroupBody,
} from './groups.schemas.js';

const TAGS = ['admin: groups'];
const CHANGE_PROBLEMS = problemResponses(
  'validation_failed',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
);
const READ_PROBLEMS = problemResponses(
  'validation_failed',
  'unauthorized',
  'forbidden',
  'not_found',
);

export const groupsRoutes: FastifyPluginAsyncTypebox<{ groups: GroupsService }> = async (
  app,
  { groups },
) => {
  app.get(
    '/api/admin/groups',
    {
      config: { permission: 'groups:read' },
      schema: {
        tags: TAGS,
        summary: 'List groups (newest first)',
        querystring: PageQuery,
        response: {
          200: PageOf(GroupSchema),
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden'),
        },
      },
    },
    async (request) => groups.list(request.query),
  );

  app.post(
    '/api/admin/groups',
    {
      config: { permission: 'groups:write' },
      schema: {
        tags: TAGS,
        summary: 'Create a group',
        body: CreateGroupBody,
        response: {
          201: GroupSchema,
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden', 'conflict'),
        },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await groups.create(request.body, actorOf(request))),
  );

  app.get(
    '/api/admin/groups/:id',
    {
      config: { permission: 'groups:read' },
      schema: {
        tags: TAGS,
        summary: 'Get a group',
        params: GroupIdParams,
        response: { 200: GroupSchema, ...READ_PROBLEMS },
      },
    },
    async (request) => groups.get(request.params.id),
  );

  app.patch(
    '/api/admin/groups/:id',
    {
      config: { permission: 'groups:write' },
      schema: {
        tags: TAGS,
        summary: 'Rename a group, or replace its roles',
        description: 'Refused with 409 when it would leave no active admin.',
        params: GroupIdParams,
        body: UpdateGroupBody,
        response: { 200: GroupSchema, ...CHANGE_PROBLEMS },
      },
    },
    async (request) => groups.update(request.params.id, request.body, actorOf(request)),
  );

  app.delete(
    '/api/admin/groups/:id',
    {
      config: { permission: 'groups:write' },
      schema: {
        tags: TAGS,
        summary: 'Delete a group (its members lose its roles)',
        params: GroupIdParams,
        response: { 204: { type: 'null', description: 'Deleted' }, ...CHANGE_PROBLEMS },
      },
    },
    async (request, reply) => {
      await groups.delete(request.params.id, actorOf(request));
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/admin/groups/:id/members',
    {
      config: { permission: 'groups:read' },
      schema: {
        tags: TAGS,
        summary: "List a group's members (most recently added first)",
        params: GroupIdParams,
        querystring: PageQuery,
        response: { 200: PageOf(UserSchema), ...READ_PROBLEMS },
      },
    },
    async (request) => groups.listMembers(request.params.id, request.query),
  );

  app.post(
    '/api/admin/groups/:id/members',
    {
      config: { permission: 'groups:write' },
      schema: {
        tags: TAGS,
        summary: 'Add a user to a group',
        description: '201 when added, 200 when the user already was a member.',
        params: GroupIdParams,
        body: AddMemberBody,
        response: { 200: UserSchema, 201: UserSchema, ...READ_PROBLEMS },
      },
    },
    async (request, reply) => {
      const { added, user } = await groups.addMember(
        request.params.id,
        request.body.user_id,
        actorOf(request),
      );
      return reply.status(added ? 201 : 200).send(user);
    },
  );

  app.delete(
    '/api/admin/groups/:id/members/:user_id',
    {
      config: { permission: 'groups:write' },
      schema: {
        tags: TAGS,
        summary: 'Remove a user from a group',
        params: GroupMemberParams,
        response: { 204: { type: 'null', description: 'Removed' }, ...CHANGE_PROBLEMS },
      },
    },
    async (request, reply) => {
      await groups.removeMember(request.params.id, request.params.user_id, actorOf(request));
      return reply.status(204).send(null);
    },
  );
};
