import type { FastifyInstance } from 'fastify';

/**
 * Every route the router serves, read from app.printRoutes() (a tree whose children continue
 * their parent's path), as OpenAPI writes paths: `:id` becomes `{id}` and a wildcard `{*}`.
 * Methods as the router lists them, upper-case, HEAD and OPTIONS included.
 */
export function servedRoutes(app: FastifyInstance): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const pathAtDepth: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const parent = pathAtDepth[depth - 1] ?? '';
    const segment = match[2]!.split('|')[0]!.replace(/:([\w-]+)(?:\([^)]*\))?/g, '{$1}');
    // The printer drops the slash before a wildcard (it restarts the prefix at `*`).
    const path =
      segment === '*' ? `${parent.endsWith('/') ? parent : `${parent}/`}{*}` : parent + segment;
    pathAtDepth.length = depth;
    pathAtDepth.push(path);
    for (const method of (match[3] ?? '').split(', ')) if (method) routes.push({ method, path });
  }
  return routes;
}
