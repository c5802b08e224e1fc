import type { IncomingMessage, ServerResponse } from 'node:http';
import { type GuardOptions, createGuard } from './guard.js';
import { sendAnswer } from './node.js';
import type { VerifiedToken } from './token.js';

/**
 * The shape of an Express request and response this middleware needs (Express's own extend
 * node's), so the kit does not depend on Express.
 */
export type ExpressLikeRequest = IncomingMessage & { auth?: VerifiedToken; originalUrl?: string };
export type ExpressMiddleware = (
  req: ExpressLikeRequest,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * Express (4 or 5) middleware: serves the RFC 9728 metadata at its well-known paths, sets
 * `req.auth` for a good token, answers 401/403 (with the challenge) or 503 itself otherwise.
 * Mount it per route to require more scopes: `app.get('/x', expressAuth({ …, scopes }), h)`.
 */
export function expressAuth(options: GuardOptions): ExpressMiddleware {
  const guard = createGuard(options);
  return (req, res, next) => {
    const metadata = guard.metadataAnswer(req.method, req.originalUrl ?? req.url);
    if (metadata) return sendAnswer(res, metadata);
    guard.judge(req.headers.authorization).then((judgement) => {
      if (!judgement.ok) return sendAnswer(res, judgement.answer);
      req.auth = judgement.token;
      next();
    }, next);
  };
}
