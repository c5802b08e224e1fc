import Fastify from 'fastify';
import { authOf, createVerifier, hyperionAuth } from '@hyperion-auth/verify';

/** A reports API that accepts Hyperion access tokens issued for it (its `resource`). */
export async function reportsApi(options: {
  issuer: string; // Hyperion's PUBLIC_URL
  resource: string; // the identifier registered at /api/admin/resources
  feed: { clientId: string; clientSecret: string }; // a service account with revocations:read
}) {
  const verifier = createVerifier({
    issuer: options.issuer,
    audience: options.resource,
    // Refuse a signed-out session's tokens within a second, not at their expiry.
    revocations: options.feed,
  });
  const app = Fastify();
  app.addHook('onClose', () => verifier.close());
  await app.register(async (api) => {
    // Serves /.well-known/oauth-protected-resource[/path]; 401/403 with their challenges.
    await api.register(hyperionAuth, { verifier, scopes: ['reports:read'] });
    api.get('/api/reports', async (request) => {
      const { sub, scopes } = authOf(request);
      return { sub, scopes };
    });
  });
  return app;
}
