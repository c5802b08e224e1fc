import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AdminUsersService } from './admin-users.service.js';
import { actorOf } from '../../http/actor.js';
import { problemResponses } from '../../http/schemas.js';
import { PageOf } from '../../lib/schemas.js';
import { UserSchema } from '../accounts/accounts.schemas.js';
import { PasskeyList, UserPasskeyParams, toPasskeyView } from '../passkeys/passkeys.schemas.js';
import {
  AdminUserPatchBody,
  AdminUserSchema,
  UserIdParams,
  UserListQuery,
} from './admin-users.schemas.js';

const TAGS = ['admin: users'];

export const adminUsersRoutes: FastifyPluginAsyncTypebox<{
  adminUsers: AdminUsersService;
}> = async (app, { adminUsers }) => {
  app.get(
    '/api/admin/users',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: TAGS,
        summary: 'Search users (newest first)',
        description:
          '`q` matches part of the e-mail or name (case-insensitive); `role` holds directly or ' +
          'through a group; keyset pagination never skips or repeats a user while others sign up.',
        querystring: UserListQuery,
        response: {
          200: PageOf(UserSchema),
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden'),
        },
      },
    },
    async (request) => adminUsers.list(request.query),
  );

  app.get(
    '/api/admin/users/:id',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: TAGS,
        summary: 'Get a user, with the second factors they hold',
        params: UserIdParams,
        response: {
          200: AdminUserSchema,
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden', 'not_found'),
        },
      },
    },
    async (request) => adminUsers.get(request.params.id),
  );

  app.patch(
    '/api/admin/users/:id',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: TAGS,
        summary: "Change a user's name, direct roles, active flag or e-mail verification",
        description:
          '`roles` replaces the direct roles. `is_active: false` revokes every session at once. ' +
          'Refused with 409 when no active admin would remain.',
        params: UserIdParams,
        body: AdminUserPatchBody,
        response: {
          200: UserSchema,
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
    async (request) => adminUsers.update(request.params.id, request.body, actorOf(request)),
  );

  app.delete(
    '/api/admin/users/:id',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: TAGS,
        summary: 'Delete a user and their personal data',
        params: UserIdParams,
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
      await adminUsers.delete(request.params.id, actorOf(request));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/admin/users/:id/signout',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: TAGS,
        summary: 'Sign a user out everywhere',
        params: UserIdParams,
        response: {
          204: { type: 'null', description: 'Every session revoked' },
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden', 'not_found'),
        },
      },
    },
    async (request, reply) => {
      await adminUsers.signOutEverywhere(request.params.id, actorOf(request));
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/admin/users/:id/passkeys',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: TAGS,
        summary: "A user's passkeys",
        params: UserIdParams,
        response: {
          200: PasskeyList,
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden', 'not_found'),
        },
      },
    },
    async (request) => ({
      items: (await adminUsers.passkeysOf(request.params.id)).map(toPasskeyView),
    }),
  );

  app.delete(
    '/api/admin/users/:id/passkeys/:passkey_id',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: TAGS,
        summary: "Remove a user's passkey (a lost or stolen authenticator)",
        description: 'Audited as `passkey.removed` with the admin as the actor.',
        params: UserPasskeyParams,
        response: {
          204: { type: 'null', description: 'Removed' },
          ...problemResponses('validation_failed', 'unauthorized', 'forbidden', 'not_found'),
        },
      },
    },
    async (request, reply) => {
      await adminUsers.removePasskey(
        request.params.id,
        request.params.passkey_id,
        actorOf(request),
      );
      return reply.status(204).send(null);
    },
  );
};
