import type {} from '@fastify/swagger';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { VerifiedAccessToken } from '../crypto/access-tokens.js';
import { AppError } from '../errors.js';
import { ADMIN_ROLE, grants } from '../lib/permissions.js';

/** Who made an authenticated request. */
export interface AuthContext {
  userId: string;
  sessionId: string;
  email: string | undefined;
  roles: string[];
  token: VerifiedAccessToken;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `true`: the route needs a signed-in user's bearer token. `'optional'`: a bearer token,
     * if sent, must be valid; without one the handler decides (sign-out by refresh cookie).
     */
    auth?: boolean | 'optional';
    /**
     * The caller must hold this permission (`resource:action`): through a role of theirs
     * (the `admin` role holds every one), or — for a service account's token — as a scope.
     * Implies `auth`; the only kind of route a service token may call.
     */
    permission?: string;
    /** The caller must hold this role, directly or through a group. Implies `auth`. */
    role?: string;
  }
  interface FastifyRequest {
    /** A signed-in user's context (never set for a service token). */
    auth: AuthContext | undefined;
    /** Whoever called a route that declares `auth`, `permission` or `role`. */
    caller: Caller | undefined;
  }
}

/** A signed-in user, or a service account acting with its token's scopes. */
export type Caller =
  | {
      kind: 'user';
      id: string;
      auth: AuthContext;
      /** Read fresh on routes that declare a permission or role (the admin's: `*`). */
      permissions?: readonly string[];
    }
  | { kind: 'service'; id: string; scopes: string[] };

/**
 * What authentication asks of the rest of the service, and nothing more: app.ts builds it from
 * the token signer and the session, service-account and account services, so http/ knows no
 * feature and a test can hand it a stand-in.
 */
export interface CallerVerifier {
  /**
   * The token's signature, issuer, audience and expiry (AppError unauthorized, token_expired);
   * `audiences` replaces JWT_AUDIENCE (forward auth, for a registered resource's URL).
   */
  verifyAccessToken(raw: string, audiences?: readonly string[]): Promise<VerifiedAccessToken>;
  /** Refuses a user token whose session has been revoked or has ended. */
  assertSessionActive(sessionId: string, userId: string): Promise<void>;
  /** Checks a service token against its account as it is now; the scopes still in force. */
  assertServiceTokenUsable(token: VerifiedAccessToken): Promise<string[]>;
  /** The user's roles and permissions as they are now, and whether MFA is on. */
  authorizationOf(
    userId: string,
  ): Promise<{ roles: string[]; permissions: string[]; mfaEnabled: boolean }>;
  /** MFA_REQUIRED_ROLES: those roles' rights wait until the user has enrolled. */
  readonly mfaRequiredRoles: readonly string[];
  /** Whether an OAuth client is first-party (trusted by the operator as this service is). */
  isFirstPartyClient(clientId: string): Promise<boolean>;
}

/** Who presents a verified bearer token: a live session's user, or a usable service account. */
export type BearerCaller =
  | { kind: 'user'; token: VerifiedAccessToken; sessionId: string }
  | { kind: 'service'; token: VerifiedAccessToken; scopes: string[] };

/**
 * Bearer token → caller, the same for the route hook and for forward auth: a user token's
 * session must still be active (so a revoked session stops working at once), a service token's
 * account must still exist as the token says. `serviceTokens: false` refuses a service token
 * before its account is even read.
 */
export async function resolveBearer(
  verifier: CallerVerifier,
  raw: string,
  options: { serviceTokens: boolean; audiences?: readonly string[] },
): Promise<BearerCaller> {
  const token = await verifier.verifyAccessToken(raw, options.audiences);
  if (token.sid) {
    await verifier.assertSessionActive(token.sid, token.sub);
    return { kind: 'user', token, sessionId: token.sid };
  }
  if (!options.serviceTokens) throw new AppError('unauthorized', 'A user access token is required');
  return { kind: 'service', token, scopes: await verifier.assertServiceTokenUsable(token) };
}

const BEARER = /^Bearer\s+([A-Za-z0-9\-_.~+/]+=*)\s*$/i;

export function readBearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header ? BEARER.exec(header)?.[1] : undefined;
}

/** The caller of a route declared with `auth: true`; the hook has already checked them. */
export function requireAuth(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new AppError('unauthorized');
  return request.auth;
}

/** The caller of a route that declares `auth`, `permission` or `role`. */
export function requireCaller(request: FastifyRequest): Caller {
  if (!request.caller) throw new AppError('unauthorized');
  return request.caller;
}

function describeRequirement(permission: string | undefined, role: string | undefined): string {
  const needs = [
    permission ? `the permission \`${permission}\`` : undefined,
    role ? `the role \`${role}\`` : undefined,
  ].filter(Boolean);
  return `Requires ${needs.join(' and ')} (the \`admin\` role holds every permission).`;
}

/**
 * One hook enforces what routes declare: a route with `config: { auth: true }` gets the
 * verified caller in `request.auth`, or the request ends with 401 before its handler.
 * The token's session is checked too, so a revoked session stops working at once.
 */
export function registerAuthentication(app: FastifyInstance, verifier: CallerVerifier): void {
  app.decorateRequest('auth', undefined);
  app.decorateRequest('caller', undefined);
  app.addHook('onRoute', (route) => {
    const { auth, permission, role } = route.config ?? {};
    if (auth || permission || role) {
      const security: Record<string, string[]>[] = [{ bearerAuth: [] }, { oauth2: [] }];
      // An empty requirement in OpenAPI means "or no credentials at all".
      if (auth === 'optional' && !permission && !role) security.push({});
      route.schema = { ...route.schema, security };
    }
    if (permission || role) {
      const note = describeRequirement(permission, role);
      const description = route.schema?.description;
      route.schema = {
        ...route.schema,
        description: description ? `${description}\n\n${note}` : note,
      };
    }
  });
  // On request, before the body is read or validated: a caller without the right is told 401
  // or 403 whatever they sent, and learns nothing of what the route would accept.
  app.addHook('onRequest', (request, _reply, done) => {
    const { auth, permission, role } = request.routeOptions.config;
    // A route that declares nothing goes on at once, without a promise.
    if (!auth && !permission && !role) return done();
    authenticate(request, verifier).then(() => done(), done);
  });
}

/** Sets `request.auth` / `request.caller` as the route's config asks, or throws 401/403. */
async function authenticate(request: FastifyRequest, verifier: CallerVerifier): Promise<void> {
  const { auth, permission, role } = request.routeOptions.config;
  const raw = readBearerToken(request);
  if (!raw) {
    if (auth === 'optional' && !permission && !role && request.headers.authorization === undefined)
      return;
    throw new AppError('unauthorized', 'A bearer token is required');
  }
  // A service token acts only within its scopes, so only on routes that name a permission.
  const bearer = await resolveBearer(verifier, raw, { serviceTokens: !!(permission || role) });
  if (bearer.kind === 'service') {
    if (role || !permission)
      throw new AppError('forbidden', `Requires the role ${role}, which a service never holds`);
    if (!grants(bearer.scopes, permission))
      throw new AppError('forbidden', `The token's scope does not include ${permission}`);
    request.caller = { kind: 'service', id: bearer.token.sub, scopes: bearer.scopes };
    return;
  }
  const { token, sessionId } = bearer;
  // A token issued to an application through "sign in with Hyperion" speaks for the person
  // only as far as they consented: it may read their own account here, but not change it
  // (enrol a second factor, delete sessions…) nor use the admin API — unless the operator
  // made the application first-party.
  if (
    token.clientId !== undefined &&
    (permission || role || request.method !== 'GET') &&
    !(await verifier.isFirstPartyClient(token.clientId))
  )
    throw new AppError(
      'forbidden',
      'A token issued to an application cannot change the account or use the admin API',
    );
  request.auth = {
    userId: token.sub,
    sessionId,
    email: token.email,
    roles: token.roles,
    token,
  };
  request.caller = { kind: 'user', id: token.sub, auth: request.auth };
  if (permission || role) {
    // Read fresh rather than from the token's claim: a demoted admin loses the admin API
    // at once, not when their access token expires.
    const current = await verifier.authorizationOf(token.sub);
    // MFA_REQUIRED_ROLES: those roles' rights wait until the user has enrolled.
    const needsMfa = current.roles.filter((held) => verifier.mfaRequiredRoles.includes(held));
    if (needsMfa.length > 0 && !current.mfaEnabled)
      throw new AppError(
        'mfa_required',
        `The role ${needsMfa.join(', ')} requires MFA: enrol at POST /api/auth/mfa/totp/setup`,
      );
    const isAdmin = current.roles.includes(ADMIN_ROLE);
    if (role && !isAdmin && !current.roles.includes(role))
      throw new AppError('forbidden', `Requires the role ${role}`);
    if (permission && !isAdmin && !grants(current.permissions, permission))
      throw new AppError('forbidden', `Requires the permission ${permission}`);
    request.caller = { ...request.caller, permissions: isAdmin ? ['*'] : current.permissions };
  }
}
