export { challenge, type ChallengeOptions } from './challenge.js';
export { type Fetch, type IssuerMetadata } from './discovery.js';
export { VerifyError, type VerifyErrorCode, isVerifyError } from './errors.js';
export { type ExpressLikeRequest, type ExpressMiddleware, expressAuth } from './express.js';
export {
  type FastifyLikeInstance,
  type FastifyLikeReply,
  type FastifyLikeRequest,
  hyperionAuth,
} from './fastify.js';
export {
  type Answer,
  type Guard,
  type GuardOptions,
  type Judgement,
  bearerTokenOf,
  createGuard,
} from './guard.js';
export { type McpAuthInfo, toMcpAuthInfo } from './mcp.js';
export {
  type AuthenticatedRequest,
  type NodeHandler,
  authOf,
  createNodeHandler,
  sendAnswer,
} from './node.js';
export {
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataOptions,
  protectedResourceMetadata,
  resourceMetadataPaths,
  resourceMetadataUrl,
} from './resource-metadata.js';
export {
  type RevocationCredentials,
  type RevocationFollower,
  type RevocationFollowerOptions,
} from './revocations.js';
export { requireScopes, scopesOf } from './scopes.js';
export { readEventStream, type ServerSentEvent } from './sse.js';
export type { VerifiedToken } from './token.js';
export {
  ACCESS_TOKEN_TYPE,
  type SigningAlgorithm,
  type Verifier,
  type VerifierOptions,
  createVerifier,
} from './verifier.js';
