import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { json, startTestApp } from '../../../../test/app.js';
import type { Grant } from './grant.js';
import { GRANTS, GRANT_TYPES } from './index.js';

// The registry is the one list of grants: these tests fail when a grant module is left out of
// it, or when anything that describes the token endpoint stops being read from it.

const { app, deps } = await startTestApp();

function isGrant(value: unknown): value is Grant {
  return typeof value === 'object' && value !== null && 'type' in value && 'prepare' in value;
}

type Schema = { properties: Record<string, { enum?: string[] }> };
type OpenApi = {
  paths: Record<
    string,
    Record<
      string,
      { description: string; requestBody: { content: Record<string, { schema: Schema }> } }
    >
  >;
  components: { securitySchemes: Record<string, { flows?: Record<string, { tokenUrl: string }> }> };
};

describe('the grant registry', () => {
  it('holds each grant type once', () => {
    expect(new Set(GRANT_TYPES).size).toBe(GRANTS.length);
    expect(GRANT_TYPES).toEqual(GRANTS.map((grant) => grant.type));
  });

  it('lists every grant module of this folder', async () => {
    const names = readdirSync(fileURLToPath(new URL('.', import.meta.url)))
      .filter((file) => file.endsWith('.grant.ts'))
      .map((file) => file.slice(0, -'.grant.ts'.length));
    // Finding none would prove nothing below.
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const name of names) {
      const file = `${name}.grant.ts`;
      // The extension stays in the literal part, so the bundler can resolve the pattern.
      const module = (await import(`./${name}.grant.ts`)) as Record<string, unknown>;
      const grants = Object.values(module).filter(isGrant);
      expect(grants.length, `${file} exports a grant`).toBeGreaterThan(0);
      for (const grant of grants) expect(GRANTS, `${file}: ${grant.type}`).toContain(grant);
    }
  });

  it('is what the token endpoint accepts: every listed type reaches its own grant', async () => {
    for (const grantType of GRANT_TYPES) {
      // No other parameter: each grant refuses the request in its own words, none as unknown.
      const response = await app.inject({
        method: 'POST',
        url: '/api/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: grantType }).toString(),
      });
      expect(response.statusCode, grantType).toBeGreaterThanOrEqual(400);
      expect(json(response)['error'], grantType).not.toBe('unsupported_grant_type');
    }
  });

  it("is discovery's grant_types_supported, in the same order", async () => {
    const response = await app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    expect(json(response)['grant_types_supported']).toEqual([...GRANT_TYPES]);
  });

  it("is the OpenAPI document's grant_type enum, parameters, description and flows", async () => {
    const doc = json<OpenApi>(await app.inject({ method: 'GET', url: '/openapi.json' }));
    const token = doc.paths['/api/auth/token']?.['post'];
    const contents = Object.values(token?.requestBody.content ?? {});
    expect(contents).toHaveLength(2);
    for (const { schema } of contents) {
      expect(schema.properties['grant_type']?.enum).toEqual([...GRANT_TYPES]);
      for (const grant of GRANTS)
        for (const param of Object.keys(grant.params))
          expect(schema.properties, `${grant.type}: ${param}`).toHaveProperty(param);
    }
    for (const grantType of GRANT_TYPES) expect(token?.description).toContain(grantType);
    const flows = doc.components.securitySchemes['oauth2']?.flows ?? {};
    expect(Object.keys(flows)).toEqual(GRANTS.flatMap((grant) => grant.openApiFlow ?? []));
    for (const flow of Object.values(flows))
      expect(flow.tokenUrl).toBe(`${deps.config.publicUrl}/api/auth/token`);
  });
});
