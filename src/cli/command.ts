import type { Readable } from 'node:stream';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { type Deps, createDeps } from '../deps.js';

/** Where a command writes; tests capture it, the binary uses the process streams. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** Reads all of standard input (for --password-stdin). */
  readStdin(): Promise<string>;
  /** Standard input as a stream (`users import -`), read line by line. */
  openStdin(): Readable;
}

export type Env = Readonly<Record<string, string | undefined>>;

export interface Command {
  summary: string;
  usage: string;
  run(args: string[], env: Env, io: CliIo): Promise<number>;
}

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {}

type OptionValues = Record<string, string | boolean | undefined>;

export function parse(args: string[], options: ParseArgsOptionsConfig): OptionValues {
  return parseWithPositionals(args, options, 0).values;
}

/** Options and exactly `positionals` operands (`operand` names one: a file, a client id). */
export function parseWithPositionals(
  args: string[],
  options: ParseArgsOptionsConfig,
  positionals: number,
  operand = 'file',
): { values: OptionValues; positionals: string[] } {
  let parsed: { values: unknown; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals > 0 });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.positionals.length !== positionals)
    throw new UsageError(
      positionals === 1 ? `give exactly one ${operand}` : `expected ${positionals} operands`,
    );
  return { values: parsed.values as OptionValues, positionals: parsed.positionals };
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** Runs `work` with the service's dependencies (no background jobs), closing them after. */
export async function withDeps<T>(env: Env, work: (deps: Deps) => Promise<T>): Promise<T> {
  const deps = await createDeps(loadConfig(env), { startWorkers: false });
  try {
    return await work(deps);
  } finally {
    await deps.close();
  }
}
