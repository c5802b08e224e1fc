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

/** Every process whose command is one of `commands`, with its CPU so far. */
function processesOf(commands: ReadonlySet<string>): Map<number, number> {
  const found = new Map<number, number>();
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
    if (process && commands.has(process.command)) found.set(pid, process.ms);
  }
  return found;
}

/**
 * The CPU a group of processes spent over an interval, sampled while it runs: PostgreSQL
 * starts a backend for each new connection (pgbench's clients), and a process that ended
 * before the interval did would otherwise take its CPU with it.
 */
class GroupTracker {
  readonly #first = new Map<number, number>();
  readonly #last = new Map<number, number>();
  readonly #timer: NodeJS.Timeout;

  constructor(private readonly commands: ReadonlySet<string>) {
    for (const [pid, ms] of processesOf(commands)) this.#first.set(pid, ms);
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), 100);
    this.#timer.unref();
  }

  /** Stops sampling; the CPU spent since the start (a process that began later from zero). */
  stop(): number {
    clearInterval(this.#timer);
    this.#sample();
    let total = 0;
    for (const [pid, ms] of this.#last) total += ms - (this.#first.get(pid) ?? 0);
    return total;
  }

  #sample(): void {
    for (const [pid, ms] of processesOf(this.commands)) this.#last.set(pid, ms);
  }
}

const POSTGRES = new Set(['postgres', 'postmaster']);
const REDIS = new Set(['redis-server']);

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
    const postgres = new GroupTracker(POSTGRES);
    const redis = new GroupTracker(REDIS);
    return {
      stop() {
        const benchUsage = process.cpuUsage(bench);
        return {
          serviceMs: serviceMs() - service,
          postgresMs: postgres.stop(),
          redisMs: redis.stop(),
          benchMs: (benchUsage.user + benchUsage.system) / 1000,
        };
      },
    };
  }
}
