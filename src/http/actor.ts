import type { FastifyRequest } from 'fastify';
import type { ClientContext } from '../lib/client.js';
import { requireCaller } from './authenticate.js';
import { clientContext } from './client-context.js';

/**
 * Who made an administrative change, for the audit trail: a signed-in user, or no one (the
 * operator CLI, or a service account — whose client id goes into the event's data).
 */
export interface Actor {
  actorId: string | null;
  client?: ClientContext | undefined;
  /** Set when a service account acted. */
  clientId?: string | undefined;
}

export function actorOf(request: FastifyRequest): Actor {
  const caller = requireCaller(request);
  return caller.kind === 'user'
    ? { actorId: caller.id, client: clientContext(request) }
    : { actorId: null, client: clientContext(request), clientId: caller.id };
}

/** The actor's part of an audit event: who, from where, and a service account's client id. */
export function auditedBy(actor: Actor, data: Record<string, unknown> = {}) {
  return {
    actorId: actor.actorId,
    ...actor.client,
    data: actor.clientId ? { ...data, client_id: actor.clientId } : data,
  };
}
