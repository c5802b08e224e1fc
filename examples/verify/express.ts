import express from 'express';
import { authOf, createVerifier, expressAuth } from '@hyperion-auth/verify';

export function reportsApi(options: { issuer: string; resource: string }) {
  const verifier = createVerifier({ issuer: options.issuer, audience: options.resource });
  const app = express();
  app.use(expressAuth({ verifier, scopes: ['reports:read'] }));
  app.get('/api/reports', (req, res) => {
    const { sub, scopes } = authOf(req);
    res.json({ sub, scopes });
  });
  return app;
}
