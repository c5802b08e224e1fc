import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Deps } from '../../deps.js';

// PLACEHOLDER: replaced by the feature's routes.
export const auditRoutes: FastifyPluginAsyncTypebox<{ deps: Deps }> = async (
  _app,
  { deps: _deps },
) => {};
