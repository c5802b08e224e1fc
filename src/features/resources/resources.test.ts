import { describe, expect, it } from 'vitest';
import { json, signedInAdmin, signedInUser, startTestApp } from '../../../test/app.js';

// The registry of protected APIs (RFC 8707 resources) and what forward auth tells a client
// refused at one of them (RFC 9728 §5.1), so an MCP server behind a gateway needs no code.
const { app, deps } = await startTestApp();
const admin = await signedInAdmin(app, deps);

const MCP = 'https://mcp.example.com/mcp';

async function create(body: Record<string, unknown>, headers = admin.auth) {
  return app.inject({ method: 'POST', url: '/api/admin/resources', headers, payload: body });
}

describe('the resource registry', () => {
  it('registers, reads, changes and removes a protected API, audited', async () => {
    const created = await create({
      identifier: 'https://notes.example.com/api',
      name: 'Notes API',
      scopes: [
        { name: 'notes:read', description: 'Read your notes' },
        { name: 'notes:write', description: 'Change your notes' },
      ],
      access_token_ttl: 300,
    });
    expect(created.statusCode).toBe(201);
    const resource = json<{ id: string; identifier: string; scopes: unknown[] }>(created);
    expect(resource).toMatchObject({
      identifier: 'https://notes.example.com/api',
      name: 'Notes API',
      access_token_ttl: 300,
    });
    const read = await app.inject({
      url: `/api/admin/resources/${resource.id}`,
      headers: admin.auth,
    });
    expect(json(read)).toEqual(resource);
    const listed = json<{ items: { id: string }[] }>(
      await app.inject({ url: '/api/admin/resources', headers: admin.auth }),
    );
    expect(listed.items.map((item) => item.id)).toContain(resource.id);
    const changed = await app.inject({
      method: 'PATCH',
      url: `/api/admin/resources/${resource.id}`,
      headers: admin.auth,
      payload: { name: 'Notes', access_token_ttl: null },
    });
    expect(json(changed)).toMatchObject({
      name: 'Notes',
      access_token_ttl: null,
      scopes: resource.scopes,
    });
    const removed = await app.inject({
      method: 'DELETE',
      url: `/api/admin/resources/${resource.id}`,
      headers: admin.auth,
    });
    expect(removed.statusCode).toBe(204);
    const gone = await app.inject({
      url: `/api/admin/resources/${resource.id}`,
      headers: admin.auth,
    });
    expect(gone.statusCode).toBe(404);
    const events = await deps.db
      .selectFrom('audit_events')
      .select('type')
      .where('actor_id', '=', admin.user.id)
      .where('type', 'like', 'resource.%')
      .orderBy('at')
      .execute();
    expect(events.map((event) => event.type)).toEqual([
      'resource.created',
      'resource.updated',
      'resource.deleted',
    ]);
  });

  it.each([
    ['a relative identifier', { identifier: '/api', name: 'x' }],
    ['plain http to a public host', { identifier: 'http://api.example.com', name: 'x' }],
    ['a fragment', { identifier: 'https://api.example.com/#x', name: 'x' }],
    [
      'a scope named twice',
      {
        identifier: 'https://twice.example.com',
        name: 'x',
        scopes: [
          { name: 'a', description: '' },
          { name: 'a', description: '' },
        ],
      },
    ],
    [
      'a scope name with a space',
      {
        identifier: 'https://space.example.com',
        name: 'x',
        scopes: [{ name: 'a b', description: '' }],
      },
    ],
  ])('refuses %s with 400, writing nothing', async (_label, body) => {
    const before = await deps.db.selectFrom('api_resources').select('id').execute();
    const response = await create(body);
    expect(response.statusCode).toBe(400);
    expect(json(response)['code']).toBe('validation_failed');
    expect(await deps.db.selectFrom('api_resources').select('id').execute()).toHaveLength(
      before.length,
    );
  });

  it('takes http on a loopback host, refuses a second resource with the same identifier (409)', async () => {
    expect(
      (await create({ identifier: 'http://localhost:3001/mcp', name: 'dev' })).statusCode,
    ).toBe(201);
    const again = await create({ identifier: 'http://localhost:3001/mcp', name: 'again' });
    expect(again.statusCode).toBe(409);
  });

  it('is for resources:read / resources:write holders only', async () => {
    const user = await signedInUser(app);
    expect(
      (await create({ identifier: 'https://u.example.com', name: 'u' }, user.auth)).statusCode,
    ).toBe(403);
    const anonymous = await app.inject({ url: '/api/admin/resources' });
    expect(anonymous.statusCode).toBe(401);
  });
});

describe('forward auth points a refused client at the protected API’s metadata', () => {
  const verify = (headers: Record<string, string>) =>
    app.inject({ url: '/api/auth/verify', headers });

  it('answers 401 with the RFC 9728 challenge for a request under a registered resource', async () => {
    await create({
      identifier: MCP,
      name: 'MCP server',
      scopes: [
        { name: 'tools:call', description: 'Use the tools' },
        { name: 'files:read', description: 'Read files' },
      ],
    });
    const expected = `Bearer resource_metadata="${MCP}/.well-known/oauth-protected-resource", scope="tools:call files:read"`;
    // Traefik's way: the path, with the forwarded host and scheme.
    const traefik = await verify({
      'x-forwarded-uri': '/mcp/messages?session=1',
      'x-forwarded-host': 'mcp.example.com',
      'x-forwarded-proto': 'https',
    });
    expect(traefik.statusCode).toBe(401);
    expect(traefik.headers['www-authenticate']).toBe(expected);
    // nginx's way: the whole URL; and a bad token is refused the same way.
    const nginx = await verify({
      'x-original-url': `${MCP}`,
      authorization: 'Bearer not.a.token',
    });
    expect(nginx.statusCode).toBe(401);
    expect(nginx.headers['www-authenticate']).toBe(expected);
  });

  it('keeps the plain challenge elsewhere, and matches only at a path boundary', async () => {
    const cases: Record<string, string>[] = [
      { 'x-original-url': 'https://mcp.example.com/mcpx' },
      { 'x-original-url': 'https://other.example.com/mcp' },
      {},
    ];
    for (const headers of cases) {
      const response = await verify(headers);
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toBe(
        'Bearer realm="hyperion-auth", error="invalid_token"',
      );
    }
  });

  it('still lets a valid token through as before', async () => {
    const user = await signedInUser(app);
    const response = await verify({ ...user.auth, 'x-original-url': `${MCP}/tools` });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-user-id']).toBe(user.user.id);
  });
});
