import swagger, { type SwaggerTransformObject } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Deps } from './deps.js';
import { AppError } from './errors.js';
import { accountPagesRoutes } from './features/account-pages/account-pages.routes.js';
import { emailSigninPageRoutes } from './features/account-pages/email-signin.routes.js';
import { accountsRoutes } from './features/accounts/accounts.routes.js';
import { adminUsersRoutes } from './features/admin/admin-users.routes.js';
import { auditRoutes } from './features/audit/audit.routes.js';
import { discoveryRoutes } from './features/discovery/discovery.routes.js';
import { emailLinkRoutes } from './features/email-link/email-link.routes.js';
import { emailVerificationRoutes } from './features/email-verification/email-verification.routes.js';
import { metricsRoutes, registerRequestMetrics } from './features/ops/metrics.routes.js';
import { opsRoutes } from './features/ops/ops.routes.js';
import { passwordRoutes } from './features/password/password.routes.js';
import { mfaRoutes } from './features/mfa/mfa.routes.js';
import { passkeysRoutes } from './features/passkeys/passkeys.routes.js';
import { oauthRoutes } from './features/oauth/oauth.routes.js';
import { oauth2Flows } from './features/oauth/oauth.schemas.js';
import { consentsRoutes } from './features/oauth-clients/consents.routes.js';
import { oauthClientsRoutes } from './features/oauth-clients/oauth-clients.routes.js';
import { dynamicRegistrationRoutes } from './features/oauth-clients/dynamic-registration.routes.js';
import { groupsRoutes } from './features/groups/groups.routes.js';
import { authorizeRoutes } from './features/oidc/authorize.routes.js';
import { endSessionRoutes } from './features/oidc/end-session.routes.js';
import { loginRoutes } from './features/oidc/login.routes.js';
import { emailLinkPageRoutes } from './features/oidc/email-link.routes.js';
import { deviceRoutes } from './features/oidc/device.routes.js';
import { accountPasskeysRoutes } from './features/oidc/account-passkeys.routes.js';
import { deviceAuthorizationRoutes } from './features/oauth/device-authorization.routes.js';
import { profileRoutes } from './features/profile/profile.routes.js';
import { resourcesRoutes } from './features/resources/resources.routes.js';
import { rolesRoutes } from './features/roles/roles.routes.js';
import { serviceAccountsRoutes } from './features/service-accounts/service-accounts.routes.js';
import { forwardAuthRoutes } from './features/sessions/forward-auth.routes.js';
import { revocationsRoutes } from './features/sessions/revocations.routes.js';
import { sessionsRoutes } from './features/sessions/sessions.routes.js';
import { type CallerVerifier, registerAuthentication, resolveBearer } from './http/authenticate.js';
import { tokenManagementRoutes } from './features/oauth/token-management.routes.js';
import { TokenStatusService } from './features/oidc/token-status.service.js';
import { userInfoRoutes } from './features/oidc/userinfo.routes.js';
import { UserInfoService } from './features/oidc/userinfo.service.js';
import { registerStrictJsonParser } from './http/json-parser.js';
import { installLingeringClose } from './http/lingering-close.js';
import { registerRateLimits } from './http/rate-limit.js';
import { registerSecurity } from './http/security.js';
import { deferredChildLogger, loggerOptions } from './http/logging.js';
import {
  handleClientError,
  handleFrameworkError,
  registerProblemHandlers,
} from './http/problem.js';
import { openApiHooks } from './http/openapi.js';
import { generateRequestId } from './http/request-id.js';
import { registerValidators } from './http/validation.js';

export interface BuildAppOptions {
  /** Logger override; tests pass false or a stream-backed pino config. */
  logger?: boolean | Record<string, unknown>;
  /**
   * Called with the bare instance before any plugin or route is registered, so that hooks it
   * adds reach every route (a root hook added later does not reach routes already in a
   * plugin). The test app builder checks every answer against /openapi.json this way.
   */
  instrument?: (app: FastifyInstance) => void;
}

async function registerDocs(app: FastifyInstance, deps: Deps): Promise<void> {
  // The route schemas alone would leave out the errors raised around the handlers and the
  // media type problems are sent in; these hooks add them (see openapi.ts).
  const { transform, transformObject } = openApiHooks();
  await app.register(swagger, {
    transform,
    transformObject: transformObject as SwaggerTransformObject,
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Hyperion Auth',
        version: '0.1.0',
        description:
          'Authentication and identity service. Errors are RFC 9457 problem details ' +
          '(application/problem+json), except at the OAuth token endpoint, which answers ' +
          '`{error, error_description}` as RFC 6749 says.',
      },
      servers: [{ url: deps.config.publicUrl }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          // Lets Swagger UI's "Authorize" get a token from the token endpoint: a user by
          // password, or a service account by its client id and secret.
          oauth2: {
            type: 'oauth2',
            // One per grant that names a flow, from the token endpoint's grant registry.
            flows: oauth2Flows(`${deps.config.publicUrl}/api/auth/token`),
          },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/**
 * What the authentication hook and forward auth check a bearer token against: the kernel sees
 * these five answers, never the services behind them.
 */
export function callerVerifier({ tokens, config, services }: Deps): CallerVerifier {
  const { sessions, serviceAccounts, accounts } = services;
  return {
    verifyAccessToken: (raw, audiences) => tokens.verify(raw, audiences),
    assertSessionActive: (sessionId, userId) => sessions.assertSessionActive(sessionId, userId),
    assertServiceTokenUsable: (token) => serviceAccounts.assertTokenUsable(token),
    authorizationOf: (userId) => accounts.authorizationOf(userId),
    mfaRequiredRoles: config.mfaRequiredRoles,
    isFirstPartyClient: (clientId) => services.oauthClients.isFirstParty(clientId),
  };
}

/** Builds the HTTP application on ready-made dependencies; every feature is registered here. */
export async function buildApp(
  deps: Deps,
  options: BuildAppOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? loggerOptions(deps.config.logLevel),
    genReqId: generateRequestId,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    childLoggerFactory: deferredChildLogger,
    bodyLimit: deps.config.bodyLimit,
    trustProxy: deps.config.trustProxy ? [...deps.config.trustProxy] : false,
    // Fastify's own closing answer is plain JSON without a request id; the hook below sends
    // a problem instead.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 200, ignoreTrailingSlash: true },
    // Errors raised before (or outside) the request lifecycle are problems with an id too.
    frameworkErrors: handleFrameworkError,
    clientErrorHandler: handleClientError,
  }).withTypeProvider<TypeBoxTypeProvider>();
  options.instrument?.(app);
  // First, so that every answer carries them, even one refused by the hooks below.
  await registerSecurity(app, deps.config);

  // An answer sent before the body was read (a 413, a 401 or 429 from a hook) reaches a client
  // still sending it, instead of a reset; shutdown does not wait for those bodies.
  const lingering = installLingeringClose(app.server);
  // Requests that still arrive while shutting down (on kept-alive connections) are refused, so
  // the load balancer retries them on another instance; Fastify adds Connection: close.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    lingering.closeAll();
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done(closing ? new AppError('service_unavailable', 'The service is shutting down') : undefined);
  });
  // A request still in flight when shutdown begins is answered, then its connection closed
  // once idle: left open (kept alive), it would hold the server's close until the client let
  // go. A request already sent behind it on that connection is still answered (with a 503).
  app.addHook('onResponse', (_request, _reply, done) => {
    if (closing) setImmediate(() => app.server.closeIdleConnections());
    done();
  });
  registerRequestMetrics(app, deps.metrics);
  registerValidators(app);
  registerStrictJsonParser(app);
  registerProblemHandlers(app);
  const { limits } = deps.services;
  registerRateLimits(app, (limit, key) => limits.consume(limit, key));
  const verifier = callerVerifier(deps);
  registerAuthentication(app, verifier);
  await registerDocs(app, deps);

  // Each feature is handed only what it uses, so a route file sees no other feature's service.
  const { config, services } = deps;
  await app.register(opsRoutes, { db: deps.db, redis: deps.redis });
  await app.register(metricsRoutes, { metrics: deps.metrics, config });
  await app.register(discoveryRoutes, { keys: deps.keys, config });
  const { accounts, accountDeletion, sessions, signIn, refresh } = services;
  await app.register(accountsRoutes, { accounts, accountDeletion });
  await app.register(profileRoutes, { profiles: services.profiles });
  await app.register(sessionsRoutes, { sessions, signIn, refresh, config });
  await app.register(revocationsRoutes, {
    sessions,
    signals: deps.guard,
    verifier,
    clock: deps.clock,
  });
  await app.register(forwardAuthRoutes, {
    verifier,
    challenges: services.resources,
  });
  await app.register(oauthRoutes, {
    services: {
      signIn,
      refresh,
      serviceAccounts: services.serviceAccounts,
      oauthClients: services.oauthClients,
      codes: services.codes,
      tokenExchange: services.tokenExchange,
      devices: services.devices,
    },
  });
  await app.register(deviceAuthorizationRoutes, {
    oauthClients: services.oauthClients,
    devices: services.devices,
  });
  await app.register(emailVerificationRoutes, { emailVerification: services.emailVerification });
  await app.register(passwordRoutes, { password: services.password });
  await app.register(emailLinkRoutes, { emailLink: services.emailLink, config });
  await app.register(mfaRoutes, { mfa: services.mfa });
  await app.register(passkeysRoutes, { passkeys: services.passkeys, config });
  await app.register(adminUsersRoutes, { adminUsers: services.adminUsers });
  await app.register(rolesRoutes, { roles: services.roles });
  await app.register(groupsRoutes, { groups: services.groups });
  await app.register(serviceAccountsRoutes, { serviceAccounts: services.serviceAccounts });
  await app.register(auditRoutes, { audit: services.audit });
  await app.register(oauthClientsRoutes, { oauthClients: services.oauthClients });
  await app.register(dynamicRegistrationRoutes, { oauthClients: services.oauthClients, config });
  await app.register(consentsRoutes, { consents: services.consents });
  await app.register(resourcesRoutes, { resources: services.resources });
  await app.register(accountPagesRoutes);
  // Introspection and userinfo judge an access token exactly as the routes' hook does.
  const verifyLiveAccessToken = async (raw: string, audiences?: readonly string[]) =>
    (await resolveBearer(verifier, raw, { serviceTokens: true, audiences })).token;
  await app.register(userInfoRoutes, {
    userInfo: new UserInfoService({ accounts, profiles: services.profiles }),
    verifyLiveAccessToken,
  });
  await app.register(tokenManagementRoutes, {
    oauthClients: services.oauthClients,
    tokenStatus: new TokenStatusService({
      sessions,
      verifyLiveAccessToken,
      readAccessToken: (raw, audiences) =>
        deps.tokens.verify(raw, audiences).catch(() => undefined),
      resources: services.resources,
      issuer: config.jwt.issuer,
    }),
  });
  await app.register(authorizeRoutes, { authorize: services.authorize, config });
  await app.register(endSessionRoutes, {
    endSession: services.endSession,
    hostedSignIn: services.hostedSignIn,
    config,
  });
  await app.register(deviceRoutes, { devices: services.devices, config });
  await app.register(loginRoutes, {
    hostedSignIn: services.hostedSignIn,
    authorize: services.authorize,
    config,
  });
  // Sign-in by e-mail link in the browser (EMAIL_LINK_SIGNIN): asked for from /login, opened
  // at /account/email-signin.
  await app.register(emailLinkPageRoutes, {
    emailLink: services.emailLink,
    authorize: services.authorize,
    config,
  });
  await app.register(emailSigninPageRoutes, {
    emailLink: services.emailLink,
    authorize: services.authorize,
    config,
  });
  await app.register(accountPasskeysRoutes, {
    passkeys: services.passkeys,
    sessions,
    accounts,
    config,
    clock: deps.clock,
  });
  return app;
}
