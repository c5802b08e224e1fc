import { createServer } from 'node:http';
import { createNodeHandler, createVerifier } from '@hyperion-auth/verify';

export function reportsServer(options: { issuer: string; resource: string }) {
  const verifier = createVerifier({ issuer: options.issuer, audience: options.resource });
  const authenticate = createNodeHandler({ verifier, scopes: ['reports:read'] });
  return createServer(async (req, res) => {
    // Answers the metadata, 401, 403 or 503 itself; resolves to the token otherwise.
    const token = await authenticate(req, res);
    if (!token) return;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ sub: token.sub, scopes: token.scopes }));
  });
}
