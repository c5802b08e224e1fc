import { readFileSync, readdirSync } from 'node:fs';

/**
 * Where the CPU went while a load ran: the service, PostgreSQL, Redis and the bench process
 * itself (autocannon runs in it). Every process shares the same cores, so a ratio that misses
 * its target is explained by these figures per request: the measured reason a target cannot
 * be met on this machine, or the cost to cut.
 */
export interface CpuPerRequest {
  /** Milliseconds of CPU per answered request (all threads: the hash workers included). */
  serviceMs: number;
  postgresMs: number;
  redisMs: number;
  /** The load generator. */
  benchMs: number;
}

// Linux reports utime and stime in clock ticks; USER_HZ is 100 on every Linux a bench runs on.
const TICKS_PER_SECOND = 100;

/** utime + stime of one process in ms, or undefined if it is gone (or this is not Linux). */
function processCpuMs(pid: number): { command: string; ms: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command is in parentheses and may contain spaces; the fields follow the last ')'.
    const close = stat.lastIndexOf(')');
    const command = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { command, ms: (ticks * 1000) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

type ServerGroup = 'postgres' | 'redis';

/** The servers' processes by command: PostgreSQL's postmaster and backends, Redis. */
const SERVER_COMMANDS: ReadonlyMap<string, ServerGroup> = new Map([
  ['postgres', 'postgres'],
  ['postmaster', 'postgres'],
  ['redis-server', 'redis'],
]);

/** Every server process now, with its group and its CPU so far. */
function serverProcesses(): Map<number, { group: ServerGroup; ms: number }> {
  const found = new Map<number, { group: ServerGroup; ms: number }>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const process = processCpuMs(pid);
    const group = process && SERVER_COMMANDS.get(process.command);
    if (process && group) found.set(pid, { group, ms: process.ms });
  }
  return found;
}

/**
 * The CPU the servers' processes spent over an interval, sampled while it runs (one scan of
 * /proc per sample for both servers): PostgreSQL starts a backend for each new connection
 * (pgbench's clients), and a process that ended before the interval did would otherwise
 * take its CPU with it.
 */
class ServerTracker {
  readonly #first = new Map<number, number>();
  readonly #last = new Map<number, { group: ServerGroup; ms: number }>();
  readonly #timer: NodeJS.Timeout;

  constructor() {
    for (const [pid, seen] of serverProcesses()) {
      this.#first.set(pid, seen.ms);
      this.#last.set(pid, seen);
    }
    this.#timer = setInterval(() => this.#sample(), 100);
    this.#timer.unref();
  }

  /** Stops sampling; each server's CPU since the start (a process that began later from zero). */
  stop(): Record<ServerGroup, number> {
    clearInterval(this.#timer);
    this.#sample();
    const spent: Record<ServerGroup, number> = { postgres: 0, redis: 0 };
    for (const [pid, { group, ms }] of this.#last) spent[group] += ms - (this.#first.get(pid) ?? 0);
    return spent;
  }

  #sample(): void {
    for (const [pid, seen] of serverProcesses()) this.#last.set(pid, seen);
  }
}

/** CPU milliseconds spent over an interval, by process group. */
export type CpuSpent = CpuPerRequest;

/** The service's, PostgreSQL's, Redis's and the bench's CPU while a measured run goes. */
interface CpuInterval {
  /** Stops sampling: the CPU spent since the start. */
  stop(): CpuSpent;
}

/** CPU per request, from what an interval spent over `requests` requests. */
export function perRequest(spent: CpuSpent, requests: number): CpuPerRequest | undefined {
  if (requests <= 0) return undefined;
  return {
    serviceMs: spent.serviceMs / requests,
    postgresMs: spent.postgresMs / requests,
    redisMs: spent.redisMs / requests,
    benchMs: spent.benchMs / requests,
  };
}

/** Measures CPU over measured runs, for the service process `servicePid` (if any). */
export class CpuMeter {
  constructor(private readonly servicePid: number | undefined) {}

  /** Runs `work` and says what it cost; sampling stops however `work` ends. */
  async over<T>(work: () => Promise<T>): Promise<{ result: T; spent: CpuSpent }> {
    const interval = this.#start();
    let result: T;
    try {
      result = await work();
    } catch (error) {
      interval.stop();
      throw error;
    }
    return { result, spent: interval.stop() };
  }

  #start(): CpuInterval {
    const serviceMs = () =>
      this.servicePid === undefined ? 0 : (processCpuMs(this.servicePid)?.ms ?? 0);
    const service = serviceMs();
    const bench = process.cpuUsage();
    const servers = new ServerTracker();
    return {
      stop() {
        const benchUsage = process.cpuUsage(bench);
        const { postgres, redis } = servers.stop();
        return {
          serviceMs: serviceMs() - service,
          postgresMs: postgres,
          redisMs: redis,
          benchMs: (benchUsage.user + benchUsage.system) / 1000,
        };
      },
    };
  }
}
