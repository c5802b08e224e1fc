import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import ts from 'typescript';

/**
 * The import graph of a source tree and the architecture rules checked on it
 * (docs/architecture.md explains the rules; test/architecture.test.ts runs them).
 *
 * Paths are relative to the tree's root, with forward slashes: `http/authenticate.ts`.
 */

export interface ImportEdge {
  /** The specifier as written: `../errors.js`, `fastify`. */
  specifier: string;
  /** The module it resolves to inside the tree (relative specifiers only). */
  target?: string;
  /** The package it names (bare specifiers only): `fastify`, `@fastify/cookie`, `node:fs`. */
  pkg?: string;
}

/** Every non-test `.ts` module of the tree and what it imports. */
export type ImportGraph = Map<string, ImportEdge[]>;

export type Rule =
  | 'unresolved-import'
  | 'cycle'
  | 'kernel-imports-outside-kernel'
  | 'service-imports-http'
  | 'cross-feature-repository'
  | 'feature-imports-composition-root';

export interface Violation {
  rule: Rule;
  /** The module at fault (for a cycle: its first module in path order). */
  file: string;
  message: string;
}

function listModules(rootDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts'))
        out.push(relative(rootDir, path).split(sep).join('/'));
    }
  };
  walk(rootDir);
  return out;
}

function packageName(specifier: string): string {
  if (specifier.startsWith('node:')) return specifier;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** `./x.js` → `x.ts`, `./x` → `x.ts` or `x/index.ts`, relative to the importing module. */
function resolveRelative(
  from: string,
  specifier: string,
  modules: Set<string>,
): string | undefined {
  const base = posix.normalize(posix.join(posix.dirname(from), specifier));
  const stem = base.replace(/\.(js|ts|mjs|mts)$/, '');
  return [`${stem}.ts`, `${stem}.mts`, `${base}/index.ts`].find((path) => modules.has(path));
}

/**
 * Reads every import of every module: `import`, `import type`, `export … from`, `import()`
 * and `import('x').T` all count (ts.preProcessFile finds them without type-checking).
 */
export function readImportGraph(rootDir: string): ImportGraph {
  const modules = listModules(rootDir);
  const known = new Set(modules);
  const graph: ImportGraph = new Map();
  for (const file of modules) {
    const text = readFileSync(join(rootDir, file), 'utf8');
    const { importedFiles } = ts.preProcessFile(text, true, true);
    const edges = importedFiles.map(({ fileName: specifier }): ImportEdge => {
      if (!specifier.startsWith('.')) return { specifier, pkg: packageName(specifier) };
      const target = resolveRelative(file, specifier, known);
      return target === undefined ? { specifier } : { specifier, target };
    });
    graph.set(file, edges);
  }
  return graph;
}

const KERNEL_DIRS = ['http', 'crypto', 'config', 'lib', 'db'];
const isKernel = (file: string) =>
  file === 'errors.ts' || KERNEL_DIRS.some((dir) => file.startsWith(`${dir}/`));
const featureOf = (file: string) => (file.startsWith('features/') ? file.split('/')[1] : undefined);
const isService = (file: string) => file.endsWith('.service.ts');
const isRepository = (file: string) => file.endsWith('.repository.ts');
const isHttp = (file: string) => file.startsWith('http/');
const isFramework = (pkg: string) => pkg === 'fastify' || pkg.startsWith('@fastify/');
/** What wires the features together; no feature may import it. */
const COMPOSITION_ROOT = ['deps.ts', 'infrastructure.ts', 'services.ts', 'app.ts', 'main.ts'];

function unresolved(graph: ImportGraph): Violation[] {
  const out: Violation[] = [];
  for (const [file, edges] of graph)
    for (const edge of edges)
      if (edge.target === undefined && edge.pkg === undefined)
        out.push({
          rule: 'unresolved-import',
          file,
          message: `${file} imports '${edge.specifier}', which is no module of the tree`,
        });
  return out;
}

/** Strongly connected components (Tarjan); each one with two or more modules holds a cycle. */
function stronglyConnected(graph: ImportGraph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const { target } of graph.get(node) ?? []) {
      if (target === undefined) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return components;
}

/** The shortest cycle through `start` inside its component (breadth-first). */
function shortestCycle(graph: ImportGraph, start: string, within: Set<string>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const { target } of graph.get(node) ?? []) {
      if (target === undefined || !within.has(target)) continue;
      if (target === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return [...path, start];
      }
      if (!previous.has(target) && target !== start) {
        previous.set(target, node);
        queue.push(target);
      }
    }
  }
  return [start, start];
}

function cycles(graph: ImportGraph): Violation[] {
  const out: Violation[] = [];
  for (const component of stronglyConnected(graph)) {
    const [first] = component;
    const selfImport = graph.get(first!)?.some((edge) => edge.target === first);
    if (first === undefined || (component.length === 1 && !selfImport)) continue;
    const path = shortestCycle(graph, first, new Set(component));
    out.push({
      rule: 'cycle',
      file: first,
      message:
        `import cycle of ${component.length} module(s): ${component.join(', ')}; ` +
        `for example ${path.join(' → ')}`,
    });
  }
  return out;
}

function kernelBoundary(graph: ImportGraph): Violation[] {
  const out: Violation[] = [];
  for (const [file, edges] of graph) {
    if (!isKernel(file)) continue;
    for (const { target } of edges)
      if (target !== undefined && !isKernel(target))
        out.push({
          rule: 'kernel-imports-outside-kernel',
          file,
          message:
            `${file} imports ${target}: the kernel (http/, crypto/, config/, lib/, db/, ` +
            `errors.ts) knows no feature and no composition root`,
        });
  }
  return out;
}

/**
 * A service reaches Fastify or http/ directly, or through modules outside the features
 * (lib/, deps.ts, …); another feature's module is that feature's to check.
 */
function serviceFramework(graph: ImportGraph): Violation[] {
  const out: Violation[] = [];
  for (const service of graph.keys()) {
    if (!isService(service)) continue;
    const via = new Map<string, string[]>([[service, []]]);
    const queue = [service];
    const found = new Set<string>();
    while (queue.length > 0) {
      const node = queue.shift()!;
      const path = via.get(node)!;
      const through = path.length > 0 ? ` (through ${[...path.slice(1), node].join(' → ')})` : '';
      for (const { target, pkg } of graph.get(node) ?? []) {
        const reached = pkg !== undefined && isFramework(pkg) ? pkg : target;
        if (reached === undefined) continue;
        if ((pkg !== undefined && isFramework(pkg)) || isHttp(reached)) {
          if (found.has(reached)) continue;
          found.add(reached);
          out.push({
            rule: 'service-imports-http',
            file: service,
            message: `${service} imports ${reached}${through}: a service never knows HTTP`,
          });
          continue;
        }
        if (pkg !== undefined || via.has(reached) || featureOf(reached) !== undefined) continue;
        via.set(reached, [...path, node]);
        queue.push(reached);
      }
    }
  }
  return out;
}

function crossFeatureRepository(graph: ImportGraph): Violation[] {
  const out: Violation[] = [];
  for (const [file, edges] of graph) {
    const feature = featureOf(file);
    if (feature === undefined) continue;
    for (const { target } of edges) {
      if (target === undefined || !isRepository(target)) continue;
      const owner = featureOf(target);
      if (owner !== undefined && owner !== feature)
        out.push({
          rule: 'cross-feature-repository',
          file,
          message: `${file} imports ${target}: use the ${owner} feature's service, not its repository`,
        });
    }
  }
  return out;
}

function featureCompositionRoot(graph: ImportGraph): Violation[] {
  const out: Violation[] = [];
  for (const [file, edges] of graph) {
    if (featureOf(file) === undefined) continue;
    for (const { target } of edges)
      if (target !== undefined && COMPOSITION_ROOT.includes(target))
        out.push({
          rule: 'feature-imports-composition-root',
          file,
          message: `${file} imports ${target}: a feature receives the services it uses, never the composition root`,
        });
  }
  return out;
}

/** Every broken rule of the tree at `rootDir` (a `src/` directory); empty when it keeps them. */
export function checkArchitecture(rootDir: string): Violation[] {
  const graph = readImportGraph(rootDir);
  return [
    ...unresolved(graph),
    ...cycles(graph),
    ...kernelBoundary(graph),
    ...serviceFramework(graph),
    ...crossFeatureRepository(graph),
    ...featureCompositionRoot(graph),
  ];
}

/** One line per violation, for a failing assertion or a log. */
export function formatViolations(violations: readonly Violation[]): string {
  return violations.map(({ rule, message }) => `[${rule}] ${message}`).join('\n');
}
