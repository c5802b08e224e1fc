import { ConfigError, loadConfig } from '../config/config.js';
import { createDb } from '../db/create-db.js';
import { migrateToLatest } from '../db/migrate.js';
import { AppError } from '../errors.js';
import {
  type CliIo,
  type Command,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  type Env,
  UsageError,
  parse,
  stringOption,
  withDeps,
} from './command.js';
import { clientsCreate, clientsDelete, clientsList } from './client-commands.js';
import { sessionsRevoke, usersImport, usersList } from './user-commands.js';

const migrate: Command = {
  summary: 'apply pending database migrations',
  usage:
    'hyperion-auth migrate\n\nApplies every pending migration to the configured database (DATABASE_URL, or the\nembedded database in DATA_DIR) under a lock, so it is safe while instances start.',
  async run(args, env, io) {
    parse(args, {});
    const config = loadConfig(env);
    const db = await createDb(config.database);
    try {
      const applied = await migrateToLatest(db);
      io.out(
        applied.length === 0
          ? 'database is up to date'
          : `applied ${applied.length}: ${applied.join(', ')}`,
      );
      return EXIT_OK;
    } finally {
      await db.destroy();
    }
  },
};

const createAdmin: Command = {
  summary: 'create an admin account',
  usage:
    'hyperion-auth create-admin --email EMAIL [--name NAME] [--password-stdin]\n\n' +
    'Creates a verified account with the admin role. The password is read from\n' +
    'standard input with --password-stdin, otherwise from ADMIN_PASSWORD; never\n' +
    'from the command line, where other users of the machine could see it.',
  async run(args, env, io) {
    const values = parse(args, {
      email: { type: 'string' },
      name: { type: 'string' },
      'password-stdin': { type: 'boolean' },
    });
    const email = stringOption(values, 'email') ?? env['ADMIN_EMAIL'];
    if (!email) throw new UsageError('--email is required');
    const password = values['password-stdin']
      ? (await io.readStdin()).replace(/\r?\n$/, '')
      : env['ADMIN_PASSWORD'];
    if (!password)
      throw new UsageError(
        'give the password on standard input with --password-stdin, or in ADMIN_PASSWORD',
      );
    const name = stringOption(values, 'name') ?? 'Administrator';
    return withDeps(env, async (deps) => {
      const user = await deps.services.accounts.createAdmin({ email, password, name });
      io.out(`created admin ${user.email} (${user.id})`);
      return EXIT_OK;
    });
  },
};

const keysRotate: Command = {
  summary: 'make a new signing key current',
  usage:
    'hyperion-auth keys rotate\n\nGenerates a new signing key and makes it current. The old public key stays in\n' +
    'the JWKS until every token it signed has expired (ACCESS_TOKEN_TTL).',
  async run(args, env, io) {
    parse(args, {});
    return withDeps(env, async (deps) => {
      const kid = await deps.keys.rotate();
      await deps.services.audit.record({ type: 'keys.rotated', data: { kid } });
      io.out(`current signing key is now ${kid}`);
      return EXIT_OK;
    });
  },
};

const COMMANDS: Record<string, Command> = {
  migrate,
  'create-admin': createAdmin,
  'keys rotate': keysRotate,
  'users import': usersImport,
  'users list': usersList,
  'sessions revoke': sessionsRevoke,
  'clients create': clientsCreate,
  'clients list': clientsList,
  'clients delete': clientsDelete,
};

function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(
    ([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`,
  );
  return [
    'usage: hyperion-auth <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'Run a command with --help for its options. Settings come from the environment or .env.',
  ].join('\n');
}

/** The commands under `group` (`users`, `keys`, `sessions`, `clients`), for `hyperion-auth users --help`. */
function groupUsage(group: string): string | undefined {
  const names = Object.keys(COMMANDS).filter((name) => name.startsWith(`${group} `));
  if (names.length === 0) return undefined;
  const width = Math.max(...names.map((name) => name.length));
  return [
    `usage: hyperion-auth ${group} <command> [options]`,
    '',
    'commands:',
    ...names.map((name) => `  ${name.padEnd(width)}  ${COMMANDS[name]!.summary}`),
    '',
    `Run hyperion-auth ${group} <command> --help for its options.`,
  ].join('\n');
}

export type { CliIo } from './command.js';

/** Runs one CLI invocation and returns its exit code; the error message is one line. */
export async function runCli(argv: string[], env: Env, io: CliIo): Promise<number> {
  const twoWord = argv.length >= 2 ? `${argv[0]} ${argv[1]}` : '';
  const name = COMMANDS[twoWord] ? twoWord : (argv[0] ?? '');
  const command = COMMANDS[name];
  const rest = argv.slice(name.split(' ').length);
  if (!command) {
    const group = argv[0] === undefined ? undefined : groupUsage(argv[0]);
    if (group) {
      const sub = argv[1];
      const helpAsked = sub !== undefined && ['--help', '-h', 'help'].includes(sub);
      if (!helpAsked)
        io.err(
          sub === undefined
            ? `hyperion-auth ${argv[0]}: name a command\n\n${group}`
            : `hyperion-auth ${argv[0]}: unknown command ${sub}\n\n${group}`,
        );
      else io.out(group);
      return helpAsked ? EXIT_OK : EXIT_USAGE;
    }
    const helpAsked = argv.length === 0 || ['--help', '-h', 'help'].includes(argv[0] ?? '');
    if (helpAsked) io.out(overview());
    else io.err(`hyperion-auth: unknown command ${argv[0]}\n\n${overview()}`);
    return helpAsked ? EXIT_OK : EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage);
    return EXIT_OK;
  }
  try {
    return await command.run(rest, env, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`hyperion-auth ${name}: ${error.message}\n\n${command.usage}`);
      return EXIT_USAGE;
    }
    io.err(`hyperion-auth ${name}: ${describeFailure(error)}`);
    return EXIT_FAILED;
  }
}

function describeFailure(error: unknown): string {
  if (error instanceof ConfigError) return error.message;
  if (error instanceof AppError) {
    const reasons = (error.fieldErrors ?? []).map((e) => `${e.field} ${e.message}`);
    return [error.message, ...reasons].join('; ');
  }
  return error instanceof Error ? error.message : String(error);
}
