import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const MAIN = join(ROOT, 'dist', 'main.js');
// The built service, started as `npm start` and the container image start it (with their
// runtime defaults for memory): the bench measures what ships.
const START = join(ROOT, 'scripts', 'start.sh');
const BARE_SERVER = join(ROOT, 'bench', 'bare-server.ts');
export const PROFILE_DIR = join(ROOT, 'bench', 'results', 'profiles');

/** A child process listening on a loopback port. */
export interface RunningServer {
  url: string;
  pid: number;
  /** The last lines it wrote, for an error message. */
  output(): string;
  alive(): boolean;
  /** VmHWM: the kernel's own record of the process's peak resident set, in bytes. */
  peakRssFromKernel(): number | undefined;
  stop(): Promise<void>;
}

/** A port nobody listens on right now (the child binds it a moment later). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Reads one `Vm…: <n> kB` line of /proc/<pid>/status, in bytes. */
export function readProcStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match?.[1] ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined; // gone, or not Linux
  }
}

function start(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
): RunningServer {
  const child = spawn(command, args, {
    // A scratch directory: the service loads `.env` from its working directory, and a
    // developer's `.env` must not change what is measured.
    cwd: mkdtempSync(join(tmpdir(), 'hyperion-bench-')),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4_000);
  };
  // Drained always: a full pipe would stall the child mid-benchmark.
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    output: () => tail,
    alive: () => child.exitCode === null && child.signalCode === null,
    peakRssFromKernel: () => readProcStatus(child.pid ?? -1, 'VmHWM'),
    stop: () => stopChild(child, exited),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // SIGTERM is the service's graceful shutdown, which is also when --cpu-prof writes.
  child.kill('SIGTERM');
  const killed = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(killed);
}

/** Polls `path` until it answers 200; fails early if the child has exited. */
async function waitUntilAnswering(server: RunningServer, path: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (!server.alive()) throw new Error(`the server exited during start:\n${server.output()}`);
    try {
      const response = await fetch(`${server.url}${path}`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the server did not answer ${path} within 90 s:\n${server.output()}`);
}

function baseEnv(): NodeJS.ProcessEnv {
  // Only what a process needs to run; nothing of the caller's configuration leaks in. The
  // start script runs `node`: the same one as the bench's.
  const env: NodeJS.ProcessEnv = {
    PATH: [dirname(process.execPath), process.env['PATH'] ?? ''].join(delimiter),
  };
  if (process.env['HOME']) env['HOME'] = process.env['HOME'];
  // Both the service and the hashing ceiling use the same libuv pool size.
  if (process.env['UV_THREADPOOL_SIZE'])
    env['UV_THREADPOOL_SIZE'] = process.env['UV_THREADPOOL_SIZE'];
  return env;
}

export interface ServiceOptions {
  databaseUrl: string;
  redisUrl: string;
  cpuProfile: boolean;
  /** Runtime settings under test (BENCH_SERVICE_ENV); what follows it cannot be overridden. */
  extraEnv: Record<string, string>;
}

/** Starts `node dist/main.js` on PostgreSQL and Redis (the scaled layout) and waits for /ready. */
export async function startService(options: ServiceOptions): Promise<RunningServer> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  const port = await freePort();
  // `sh` execs node: the pid sampled for memory is the service's own.
  const args = [START];
  if (options.cpuProfile) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    args.push('--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`);
  }
  const server = start(
    'sh',
    args,
    {
      ...baseEnv(),
      ...options.extraEnv,
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl,
      MIGRATE_ON_START: 'true',
      // Benchmarks are the one place rate limits are off: the bench is one source address.
      RATE_LIMIT: 'off',
      LOG_LEVEL: 'warn',
      // Stated, not inherited: the measured cost is the OWASP one the service ships with.
      ARGON2_MEMORY_KIB: '19456',
      ARGON2_ITERATIONS: '2',
      ARGON2_PARALLELISM: '1',
    },
    port,
  );
  await waitUntilAnswering(server, '/ready');
  return server;
}

/** The HTTP ceiling: a bare Fastify route in its own process, as the service would be. */
export async function startBareServer(): Promise<RunningServer> {
  const port = await freePort();
  const server = start(
    process.execPath,
    // Resolved here: the child's working directory is a scratch directory without node_modules.
    ['--import', import.meta.resolve('tsx'), BARE_SERVER],
    { ...baseEnv(), BARE_PORT: String(port) },
    port,
  );
  await waitUntilAnswering(server, '/');
  return server;
}

/** Samples a process's VmRSS every `intervalMs`, keeping the peak. */
export class RssSampler {
  #timer: NodeJS.Timeout | undefined;
  #peak = 0;
  #samples = 0;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), this.intervalMs);
    // Sampling must never keep the bench alive on its own.
    this.#timer.unref();
  }

  stop(): { peakBytes: number; samples: number } {
    clearInterval(this.#timer);
    this.#sample();
    return { peakBytes: this.#peak, samples: this.#samples };
  }

  /** The peak so far (for a per-scenario figure). */
  get peakBytes(): number {
    return this.#peak;
  }

  #sample(): void {
    const rss = readProcStatus(this.pid, 'VmRSS');
    if (rss === undefined) return;
    this.#samples++;
    if (rss > this.#peak) this.#peak = rss;
  }
}
