import { createMcpServer } from './server.js';

// Runs the example on its own:
//   HYPERION_ISSUER=http://localhost:8000 MCP_RESOURCE=http://127.0.0.1:3000/mcp \
//     npx tsx examples/mcp-server/main.ts
// MCP_RESOURCE must be registered at /api/admin/resources with the scopes mcp:tools and
// mcp:admin. PORT defaults to MCP_RESOURCE's port, HOST to 127.0.0.1.

const issuer = process.env['HYPERION_ISSUER'] ?? 'http://localhost:8000';
const resource = process.env['MCP_RESOURCE'] ?? 'http://127.0.0.1:3000/mcp';
const port = Number(process.env['PORT'] ?? (new URL(resource).port || 3000));
const host = process.env['HOST'] ?? '127.0.0.1';

const server = await createMcpServer({ issuer, resource, port, host });
console.log(`MCP server for ${resource} on ${host}:${port}, tokens from ${issuer}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void server.close().then(() => process.exit(0)));
