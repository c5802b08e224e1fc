import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Answer, type GuardOptions, createGuard } from './guard.js';
import type { VerifiedToken } from './token.js';

/** A request the kit has authenticated: `auth` is the verified token. */
export type AuthenticatedRequest<R extends IncomingMessage = IncomingMessage> = R & {
  auth: VerifiedToken;
};

/** Writes one of the guard's own answers (a refusal or the metadata). */
export function sendAnswer(res: ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, { ...answer.headers, 'content-type': 'application/json' });
  res.end(JSON.stringify(answer.body));
}

export type NodeHandler = (
  req: IncomingMessage & { auth?: VerifiedToken },
  res: ServerResponse,
) => Promise<VerifiedToken | undefined>;

/**
 * For a plain `node:http` server: resolves to the verified token (also set as `req.auth`),
 * or to undefined once it has answered the request itself — the RFC 9728 metadata, a 401 or
 * 403 with its challenge, or a 503 when the issuer cannot be reached.
 */
export function createNodeHandler(options: GuardOptions): NodeHandler {
  const guard = createGuard(options);
  return async (req, res) => {
    const metadata = guard.metadataAnswer(req.method, req.url);
    if (metadata) {
      sendAnswer(res, metadata);
      return undefined;
    }
    const judgement = await guard.judge(req.headers.authorization);
    if (!judgement.ok) {
      sendAnswer(res, judgement.answer);
      return undefined;
    }
    req.auth = judgement.token;
    return judgement.token;
  };
}

/** The token a kit middleware set on this request; throws if none did (a wiring mistake). */
export function authOf(request: object): VerifiedToken {
  const auth = (request as { auth?: VerifiedToken }).auth;
  if (!auth) throw new Error('No verified token on this request: is the middleware in front?');
  return auth;
}
