import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AccountDeletionService } from './account-deletion.service.js';
import { AppError } from '../../errors.js';
import { requireAuth } from '../../http/authenticate.js';
import { clientContext } from '../../http/client-context.js';
import { problemResponses } from '../../http/schemas.js';
import { DeleteAccountBody, SignUpBody, UserSchema } from './accounts.schemas.js';
import type { AccountsService } from './accounts.service.js';
import { toUserView } from './accounts.schemas.js';

export interface AccountsRoutesOptions {
  accounts: AccountsService;
  accountDeletion: AccountDeletionService;
}

export const accountsRoutes: FastifyPluginAsyncTypebox<AccountsRoutesOptions> = async (
  app,
  { accounts, accountDeletion },
) => {
  app.post(
    '/api/auth/signup',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Create an account',
        body: SignUpBody,
        response: {
          201: UserSchema,
          ...problemResponses('validation_failed', 'weak_password', 'email_taken', 'rate_limited'),
        },
      },
    },
    async (request, reply) => {
      const user = await accounts.signUp(request.body, clientContext(request));
      return reply.status(201).send(toUserView(user));
    },
  );

  app.get(
    '/api/auth/me',
    {
      config: { auth: true },
      schema: {
        tags: ['accounts'],
        summary: 'The signed-in user',
        response: { 200: UserSchema, ...problemResponses('unauthorized', 'token_expired') },
      },
    },
    async (request) => {
      const user = await accounts.findUserView(requireAuth(request).userId);
      // A user deleted or disabled since the token was issued is no longer signed in.
      if (!user || !user.is_active)
        throw new AppError('unauthorized', 'The account is no longer active');
      return toUserView(user);
    },
  );

  app.delete(
    '/api/auth/me',
    {
      config: { auth: true },
      schema: {
        tags: ['accounts'],
        summary: 'Delete the account (needs the password); sessions, tokens and profile go too',
        body: DeleteAccountBody,
        response: {
          204: { type: 'null' },
          ...problemResponses(
            'validation_failed',
            'wrong_password',
            'unauthorized',
            'conflict',
            'rate_limited',
          ),
        },
      },
    },
    async (request, reply) => {
      await accountDeletion.deleteOwnAccount(
        requireAuth(request).userId,
        request.body.password,
        clientContext(request),
      );
      return reply.status(204).send(null);
    },
  );
};
