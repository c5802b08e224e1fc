import { readFileSync } from 'node:fs';

// Summarises a V8 .cpuprofile (from `BENCH_CPU_PROF=1 npm run bench`, or any
// `node --cpu-prof`): self time by function and by package, to find what a hot path spends
// its time on. Usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top=30]

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package, the service itself, or Node/V8. */
function owner(url: string): string {
  if (!url) return '(native / V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith('node:')) return 'node core';
  const service = /\/dist\/(.+)$/.exec(url);
  return service?.[1] ? `service: ${service[1].split('/').slice(0, -1).join('/') || '.'}` : url;
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, '');
}

function summarise(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  const nameOf = (frame: CallFrame) =>
    `${frame.functionName || '(anonymous)'}  ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  // Time in a function and everything it called: what a code path costs as a whole.
  const inclusive = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    // Idle time says nothing about where work goes; GC and "(program)" stay in.
    if (!frame || frame.functionName === '(idle)') continue;
    total += us;
    const name = nameOf(frame);
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const where = owner(frame.url);
    byOwner.set(where, (byOwner.get(where) ?? 0) + us);
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const caller = byId.get(at)?.callFrame;
      // The service's own code: where a change can be made.
      if (caller && owner(caller.url).startsWith('service')) onStack.add(nameOf(caller));
    }
    for (const name of onStack) inclusive.set(name, (inclusive.get(name) ?? 0) + us);
  }
  const lines = (map: Map<string, number>, count: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, us]) => `${((us / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
  return [
    `${(total / 1e6).toFixed(1)} s busy`,
    '',
    'self time by package:',
    ...lines(byOwner, 20),
    '',
    `self time by function (top ${top}):`,
    ...lines(byFunction, top),
    '',
    `the service's functions with everything they called (top ${top}):`,
    ...lines(inclusive, top),
  ].join('\n');
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
process.stdout.write(`${summarise(profile, Number(topArg ?? 30))}\n`);
