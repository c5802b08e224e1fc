import type { FastifyRequest } from 'fastify';
import type { Actor } from '../lib/actor.js';
import { requireCaller } from './authenticate.js';
import { clientContext } from './client-context.js';

/** The actor a service is handed for the caller the authentication hook has checked. */
export function actorOf(request: FastifyRequest): Actor {
  const caller = requireCaller(request);
  return caller.kind === 'user'
    ? { actorId: caller.id, client: clientContext(request), permissions: caller.permissions ?? [] }
    : {
        actorId: null,
        client: clientContext(request),
        clientId: caller.id,
        permissions: caller.scopes,
      };
}
