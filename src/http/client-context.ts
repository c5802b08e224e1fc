import type { FastifyRequest } from 'fastify';
import type { ClientContext } from '../lib/client.js';

export function clientContext(request: FastifyRequest): ClientContext {
  return { ip: request.ip ?? null, userAgent: request.headers['user-agent'] ?? null };
}
