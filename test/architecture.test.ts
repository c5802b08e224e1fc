import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkArchitecture, formatViolations, readImportGraph } from './import-graph.js';

// The rules are explained in docs/architecture.md; each one is shown failing on a small tree
// under test/fixtures/architecture/ before it is trusted on src/.
const here = dirname(fileURLToPath(import.meta.url));
const fixture = (name: string) => join(here, 'fixtures', 'architecture', name);
const srcDir = join(here, '..', 'src');

describe('the architecture rules, on fixtures', () => {
  it('pass a tree that uses every allowed arrow', () => {
    expect(checkArchitecture(fixture('clean'))).toEqual([]);
  });

  it('report an import cycle with its modules', () => {
    expect(checkArchitecture(fixture('cycle'))).toEqual([
      {
        rule: 'cycle',
        file: 'lib/a.ts',
        message:
          'import cycle of 3 module(s): lib/a.ts, lib/b.ts, lib/c.ts; ' +
          'for example lib/a.ts → lib/c.ts → lib/b.ts → lib/a.ts',
      },
    ]);
  });

  it('report http/ importing a feature', () => {
    expect(checkArchitecture(fixture('kernel-imports-feature'))).toEqual([
      {
        rule: 'kernel-imports-outside-kernel',
        file: 'http/authenticate.ts',
        message: expect.stringContaining(
          'http/authenticate.ts imports features/accounts/accounts.service.ts',
        ),
      },
    ]);
  });

  it('report a service importing fastify', () => {
    expect(checkArchitecture(fixture('service-imports-fastify'))).toEqual([
      {
        rule: 'service-imports-http',
        file: 'features/sessions/sessions.service.ts',
        message: expect.stringContaining('features/sessions/sessions.service.ts imports fastify:'),
      },
    ]);
  });

  it('report a service reaching http/ through a module outside the features', () => {
    expect(checkArchitecture(fixture('service-reaches-http'))).toEqual([
      {
        rule: 'service-imports-http',
        file: 'features/roles/roles.service.ts',
        message: expect.stringContaining(
          'features/roles/roles.service.ts imports http/actor.ts (through lib/audited.ts)',
        ),
      },
    ]);
  });

  it("report a feature importing another feature's repository", () => {
    expect(checkArchitecture(fixture('cross-feature-repository'))).toEqual([
      {
        rule: 'cross-feature-repository',
        file: 'features/password/password.service.ts',
        message: expect.stringContaining(
          'features/password/password.service.ts imports features/accounts/accounts.repository.ts',
        ),
      },
    ]);
  });

  it('report a feature importing deps.ts', () => {
    expect(checkArchitecture(fixture('feature-imports-deps'))).toEqual([
      {
        rule: 'feature-imports-composition-root',
        file: 'features/profile/profile.routes.ts',
        message: expect.stringContaining('features/profile/profile.routes.ts imports deps.ts'),
      },
    ]);
  });

  it('report a relative import that resolves to no module, so no edge is silently lost', () => {
    // Written at run time: a fixture file with a broken import would fail the type-check.
    const root = mkdtempSync(join(tmpdir(), 'architecture-'));
    try {
      mkdirSync(join(root, 'lib'));
      writeFileSync(join(root, 'lib', 'a.ts'), "export * from './missing.js';\n");
      expect(checkArchitecture(root)).toEqual([
        {
          rule: 'unresolved-import',
          file: 'lib/a.ts',
          message: "lib/a.ts imports './missing.js', which is no module of the tree",
        },
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('src/', () => {
  it('is read whole: type imports, re-exports and packages are all edges', () => {
    const graph = readImportGraph(srcDir);
    expect(graph.size).toBeGreaterThan(100);
    expect([...graph.keys()].some((file) => file.endsWith('.test.ts'))).toBe(false);
    const targets = (file: string) => (graph.get(file) ?? []).map((e) => e.target ?? e.pkg);
    // `import type { FastifyInstance } from 'fastify'`, a value import, an `export type … from`.
    expect(targets('main.ts')).toEqual(expect.arrayContaining(['fastify', 'deps.ts']));
    expect(targets('features/mail/mail.service.ts')).toContain('features/mail/mail.transport.ts');
  });

  it('keeps the architecture', () => {
    const violations = checkArchitecture(srcDir);
    // One readable line per violation in the failure's diff.
    expect(formatViolations(violations).split('\n').filter(Boolean)).toEqual([]);
  });
});
