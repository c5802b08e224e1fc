import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { HashCeiling, PgbenchCeiling } from './ceilings.js';
import type { Measurement } from './load.js';
import type { BenchSettings } from './settings.js';

const RESULTS_DIR = new URL('./results/', import.meta.url).pathname;
const MB = 1024 * 1024;

/** What ran, on what, and what came out: the JSON file and the printed table. */
export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  machine: {
    cpuModel: string;
    cores: number;
    memoryMb: number;
    node: string;
    threadpoolSize: number;
    /** 1-minute load average before and after: a busy machine means noisy figures. */
    loadBefore: number;
    loadAfter: number;
  };
  commit: string;
  settings: Omit<BenchSettings, 'only' | 'adminDatabaseUrl'> & { only: string[] | null };
  ceilings: {
    bareRoute: Measurement | undefined;
    hash: HashCeiling | undefined;
    /** PostgreSQL's simple-write rate; measured only when refresh runs. */
    pgbench: PgbenchCeiling | undefined;
  };
  scenarios: Record<string, ScenarioEntry>;
  rss: { peakSampledMb: number; peakKernelMb: number | undefined; samples: number };
  targets: TargetResult[];
  notes: string[];
}

export interface ScenarioEntry {
  /** Users in the database while it ran. */
  users: number;
  measurement: Measurement;
  /** Which ceiling the ratio is taken against. */
  ceiling: 'bare route' | 'argon2 verify' | 'pgbench simple-update' | undefined;
  ratio: number | undefined;
}

export interface TargetResult {
  target: string;
  measured: string;
  /**
   * null: the figures it needs were not measured in this run (BENCH_ONLY, or a ceiling that
   * could not be measured: `measured` says why).
   */
  pass: boolean | null;
  /** For a ratio that misses: where the CPU went, per request, against its ceiling's. */
  why?: string;
}

export function commitDescription(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' });
    return dirty.trim() ? `${head} (src modified)` : head;
  } catch {
    return 'unknown';
  }
}

export function machineBefore(settings: BenchSettings): BenchResults['machine'] {
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: settings.cores,
    memoryMb: Math.round(totalmem() / MB),
    node: process.version,
    threadpoolSize: settings.threadpoolSize,
    loadBefore: loadavg()[0] ?? 0,
    loadAfter: 0,
  };
}

export function currentLoad(): number {
  return loadavg()[0] ?? 0;
}

export function entry(
  users: number,
  measurement: Measurement,
  ceiling: ScenarioEntry['ceiling'],
  ceilings: BenchResults['ceilings'],
): ScenarioEntry {
  const limits = {
    'bare route': ceilings.bareRoute?.rps,
    'argon2 verify': ceilings.hash?.rps,
    'pgbench simple-update': ceilings.pgbench?.tps ?? undefined,
  };
  const limit = ceiling ? limits[ceiling] : undefined;
  return {
    users,
    measurement,
    ceiling,
    ratio: ceiling && limit ? measurement.rps / limit : undefined,
  };
}

const pct = (value: number) => `${(value * 100).toFixed(1)}%`;
const ms = (value: number) => `${value.toFixed(1)} ms`;

/** Every target of the brief, checked against this run's own figures. */
export function evaluateTargets(
  scenarios: Record<string, ScenarioEntry>,
  ceilings: BenchResults['ceilings'],
  rssPeakMb: number,
  cores: number,
): TargetResult[] {
  const results: TargetResult[] = [];
  /** `ceilingFailure`: why the ceiling has no figure although the scenario ran. */
  const ratioTarget = (
    name: string,
    label: string,
    min: number,
    ceilingFailure?: string | null,
  ) => {
    const scenario = scenarios[name];
    const ratio = scenario?.ratio;
    const missing = scenario && ceilingFailure ? `not measured: ${ceilingFailure}` : 'not measured';
    const pass = ratio === undefined ? null : ratio >= min;
    const why = pass === false && scenario ? explainMiss(scenario, ceilings, cores) : undefined;
    results.push({
      target: `${label} ≥ ${pct(min)}`,
      measured: ratio === undefined ? missing : pct(ratio),
      pass,
      ...(why ? { why } : {}),
    });
  };
  ratioTarget('verify', 'verify / bare route', 0.5);
  ratioTarget('me', 'me / bare route', 0.3);
  // Every refresh a real rotation, with the service's reuse-window rules as they ship.
  ratioTarget('refresh', 'refresh / pgbench simple-update', 0.5, ceilings.pgbench?.failure);
  ratioTarget('signin', 'signin / argon2 verify rate', 0.85);
  const health = scenarios['health during signin']?.measurement.p99Ms;
  results.push({
    target: '/health p99 < 25 ms while sign-in is saturated',
    measured: health === undefined ? 'not measured' : ms(health),
    pass: health === undefined ? null : health < 25,
  });
  for (const name of ['me', 'signin']) {
    const small = scenarios[name];
    const large = scenarios[`${name} (large)`];
    const growth = small && large ? large.measurement.p99Ms / small.measurement.p99Ms : undefined;
    results.push({
      target: `${name} p99 with ${large?.users.toLocaleString('en') ?? 'many'} users ≤ 120% of ${small?.users.toLocaleString('en') ?? 'few'} users`,
      measured:
        growth === undefined || !small || !large
          ? 'not measured'
          : `${ms(large.measurement.p99Ms)} vs ${ms(small.measurement.p99Ms)} (${pct(growth)})`,
      pass: growth === undefined ? null : growth <= 1.2,
    });
  }
  results.push({
    target: 'service peak RSS < 250 MB',
    measured: `${rssPeakMb.toFixed(0)} MB`,
    pass: rssPeakMb > 0 ? rssPeakMb < 250 : null,
  });
  return results;
}

const us = (valueMs: number) => `${Math.round(valueMs * 1000)} µs`;
const cpuMs = (valueMs: number) => `${valueMs.toFixed(2)} ms`;

/**
 * Why a ratio misses, from the CPU each process spent per request in this run: every process
 * shares the same cores, so the rates stand roughly as the CPU per request does.
 */
function explainMiss(
  scenario: ScenarioEntry,
  ceilings: BenchResults['ceilings'],
  cores: number,
): string | undefined {
  const cpu = scenario.measurement.cpu;
  if (!cpu) return undefined;
  const spent = cpu.serviceMs + cpu.postgresMs + cpu.redisMs + cpu.benchMs;
  const onCores = `on the ${cores} shared cores`;
  if (scenario.ceiling === 'bare route') {
    const bare = ceilings.bareRoute?.cpu;
    if (!bare) return undefined;
    const bareSpent = bare.serviceMs + bare.benchMs;
    return (
      `CPU per request ${onCores}: service ${us(cpu.serviceMs)}, PostgreSQL ` +
      `${us(cpu.postgresMs)}, Redis ${us(cpu.redisMs)}, load generator ${us(cpu.benchMs)} = ` +
      `${us(spent)}; the bare route: its server ${us(bare.serviceMs)}, load generator ` +
      `${us(bare.benchMs)} = ${us(bareSpent)} (${pct(bareSpent / spent)} of this route's).`
    );
  }
  if (scenario.ceiling === 'pgbench simple-update') {
    const perTransaction = ceilings.pgbench?.postgresCpuMs;
    if (perTransaction === null || perTransaction === undefined) return undefined;
    const largest = cpu.serviceMs > cpu.postgresMs ? 'the service' : 'PostgreSQL';
    return (
      `CPU per refresh ${onCores}: service ${cpuMs(cpu.serviceMs)}, PostgreSQL ` +
      `${cpuMs(cpu.postgresMs)}, Redis ${cpuMs(cpu.redisMs)}, load generator ` +
      `${cpuMs(cpu.benchMs)}; PostgreSQL spent ${cpuMs(perTransaction)} per pgbench ` +
      `transaction (pgbench's own client, in C, is not counted). The largest share: ${largest}.`
    );
  }
  if (scenario.ceiling === 'argon2 verify') {
    const hash = ceilings.hash?.cpuMs;
    if (hash === undefined) return undefined;
    return (
      `CPU per sign-in ${onCores}: service ${cpuMs(cpu.serviceMs)}, PostgreSQL ` +
      `${cpuMs(cpu.postgresMs)}, Redis ${cpuMs(cpu.redisMs)}, load generator ` +
      `${cpuMs(cpu.benchMs)}; one argon2id verification costs ${cpuMs(hash)}, so the hashes ` +
      `can have at most ${pct(hash / spent)} of the cores' time, the rest going to the rest ` +
      `of the sign-in (${cpuMs(Math.max(0, spent - hash))}).`
    );
  }
  return undefined;
}

/** Rows as aligned columns: the first `leftColumns` padded on the right, numbers on the left. */
function table(rows: string[][], leftColumns = 1): string {
  const widths = (rows[0] ?? []).map((_, column) =>
    Math.max(...rows.map((row) => row[column]?.length ?? 0)),
  );
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          column < leftColumns
            ? cell.padEnd(widths[column] ?? 0)
            : cell.padStart(widths[column] ?? 0),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatResults(results: BenchResults): string {
  const { bareRoute, hash, pgbench } = results.ceilings;
  const rows: string[][] = [
    [
      'scenario',
      'users',
      'conns',
      'req/s',
      'p50 ms',
      'p99 ms',
      'non-2xx',
      'errors',
      'svc µs',
      'pg µs',
      'gen µs',
      'of ceiling',
    ],
  ];
  if (bareRoute) rows.push(row('bare route (ceiling)', undefined, bareRoute, undefined));
  if (hash)
    rows.push([
      'argon2 verify (ceiling)',
      '-',
      String(hash.concurrency),
      hash.rps.toFixed(1),
      hash.meanMs.toFixed(1),
      '-',
      '-',
      '-',
      '-',
      '-',
      Math.round(hash.cpuMs * 1000).toString(),
      '',
    ]);
  // Transactions per second; pgbench's mean latency stands where the others' p50 is.
  if (pgbench)
    rows.push([
      'pgbench simple-update (ceiling)',
      '-',
      String(pgbench.clients),
      pgbench.tps === null ? 'n/a' : Math.round(pgbench.tps).toString(),
      pgbench.meanLatencyMs === null ? '-' : pgbench.meanLatencyMs.toFixed(1),
      '-',
      '-',
      '-',
      '-',
      pgbench.postgresCpuMs === null ? '-' : Math.round(pgbench.postgresCpuMs * 1000).toString(),
      '-',
      pgbench.failure === null ? '' : 'not measured (see targets)',
    ]);
  for (const [name, scenario] of Object.entries(results.scenarios))
    rows.push(row(name, scenario.users, scenario.measurement, scenario));
  const targets = results.targets.map((t) => [
    t.pass === null ? 'n/a ' : t.pass ? 'PASS' : 'MISS',
    t.target,
    t.measured,
  ]);
  const reasons = results.targets.flatMap((t) => (t.why ? [`why: ${t.target}: ${t.why}`] : []));
  return [
    table(rows),
    '',
    `service peak RSS: ${results.rss.peakSampledMb.toFixed(0)} MB sampled every 200 ms` +
      (results.rss.peakKernelMb ? ` (kernel VmHWM ${results.rss.peakKernelMb.toFixed(0)} MB)` : ''),
    '',
    table(targets, 3),
    ...(reasons.length > 0 ? ['', ...reasons] : []),
    '',
    'svc/pg/gen µs: CPU per request of the service, PostgreSQL and the load generator.',
    ...results.notes.map((note) => `note: ${note}`),
  ].join('\n');
}

function row(
  name: string,
  users: number | undefined,
  m: Measurement,
  scenario: ScenarioEntry | undefined,
): string[] {
  const ratio = scenario?.ratio;
  return [
    name,
    users === undefined ? '-' : users.toLocaleString('en'),
    String(m.connections),
    m.rps >= 100 ? Math.round(m.rps).toString() : m.rps.toFixed(1),
    m.p50Ms.toFixed(1),
    m.p99Ms.toFixed(1),
    String(m.non2xx),
    String(m.errors),
    m.cpu ? Math.round(m.cpu.serviceMs * 1000).toString() : '-',
    m.cpu ? Math.round(m.cpu.postgresMs * 1000).toString() : '-',
    m.cpu ? Math.round(m.cpu.benchMs * 1000).toString() : '-',
    ratio === undefined ? '' : `${pct(ratio)} of ${scenario?.ceiling ?? ''}`,
  ];
}

/** bench/results/<timestamp>.json and bench/results/latest.json; returns the first path. */
export function writeResults(results: BenchResults): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const path = join(RESULTS_DIR, `${stamp}.json`);
  const text = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(path, text);
  writeFileSync(join(RESULTS_DIR, 'latest.json'), text);
  return path;
}
