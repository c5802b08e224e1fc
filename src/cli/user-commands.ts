import { createReadStream } from 'node:fs';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Deps } from '../deps.js';
import type { UserView } from '../features/accounts/accounts.schemas.js';
import {
  ImportRecordError,
  type ImportOutcome,
  toImportRecord,
} from '../features/user-import/user-import.service.js';
import {
  type CliIo,
  type Command,
  EXIT_FAILED,
  EXIT_OK,
  UsageError,
  parse,
  parseWithPositionals,
  stringOption,
  withDeps,
} from './command.js';
import { CsvError, CsvRecordReader } from './csv.js';

type ImportFormat = 'jsonl' | 'csv';

interface SourceLine {
  line: number;
  /** The fields of the record, or why the line could not be read. */
  fields: Record<string, unknown> | Error;
}

/** --format, else the extension: .csv is CSV; .jsonl, .ndjson and anything else JSON lines. */
function formatOf(path: string, option: string | undefined): ImportFormat {
  if (option === 'jsonl' || option === 'csv') return option;
  if (option !== undefined) throw new UsageError('--format is jsonl or csv');
  return extname(path).toLowerCase() === '.csv' ? 'csv' : 'jsonl';
}

/** JSON lines: one object per line; blank lines are skipped. */
async function* jsonLines(lines: AsyncIterable<string>): AsyncGenerator<SourceLine> {
  let number = 0;
  for await (const raw of lines) {
    number += 1;
    const text = number === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (text.trim() === '') continue;
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new Error('the line is not a JSON object');
      yield { line: number, fields: value as Record<string, unknown> };
    } catch (error) {
      yield { line: number, fields: error instanceof Error ? error : new Error(String(error)) };
    }
  }
}

/** CSV with a header row naming the columns (RFC 4180; quoted fields may span lines). */
async function* csvRows(lines: AsyncIterable<string>): AsyncGenerator<SourceLine> {
  const reader = new CsvRecordReader();
  let header: string[] | undefined;
  let number = 0;
  for await (const raw of lines) {
    number += 1;
    const text = number === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    let record: { fields: string[]; line: number } | undefined;
    try {
      record = text.trim() === '' && !header ? undefined : reader.push(text, number);
    } catch (error) {
      yield { line: number, fields: error as Error };
      continue;
    }
    if (!record) continue;
    if (!header) {
      header = record.fields.map((name) => name.trim().toLowerCase());
      continue;
    }
    if (record.fields.length === 1 && record.fields[0] === '') continue;
    if (record.fields.length !== header.length) {
      yield {
        line: record.line,
        fields: new CsvError(
          `${record.fields.length} fields where the header has ${header.length}`,
        ),
      };
      continue;
    }
    const row: Record<string, unknown> = {};
    header.forEach((name, i) => {
      const value = record.fields[i];
      if (value !== '') row[name] = value;
    });
    yield { line: record.line, fields: row };
  }
  try {
    reader.end();
  } catch (error) {
    yield { line: (error as { line?: number }).line ?? number, fields: error as Error };
  }
}

const OUTCOME_WORDS: Record<ImportOutcome, string> = {
  created: 'created',
  exists: 'exists',
  would_create: 'would create',
};

export const usersImport: Command = {
  summary: 'import users with their password hashes (JSON lines or CSV)',
  usage:
    'hyperion-auth users import FILE|- [--format jsonl|csv] [--dry-run]\n\n' +
    'Creates one user per record: email (required), name, password_hash (bcrypt $2a$/$2b$/$2y$\n' +
    'or argon2 PHC), roles (a JSON list, or in CSV separated by ; or spaces; default user),\n' +
    'email_verified (true/false, default false). CSV needs a header row naming the columns.\n' +
    'The format follows the extension (.csv; else JSON lines: .jsonl, .ndjson) unless --format\n' +
    'says; - reads standard input. An address that exists (compared case-insensitively) is\n' +
    'reported and left alone, so a run can be repeated. Imported users sign in with their old\n' +
    'passwords, which are re-hashed to argon2id then; a user without password_hash has no\n' +
    'usable password and sets one with "forgot password". Prints what happened to each line\n' +
    'and a summary; exits 1 if any line failed. --dry-run checks and reports, writing nothing.',
  async run(args, env, io) {
    const { values, positionals } = parseWithPositionals(
      args,
      { format: { type: 'string' }, 'dry-run': { type: 'boolean' } },
      1,
    );
    const path = positionals[0]!;
    const format = formatOf(path, stringOption(values, 'format'));
    const dryRun = values['dry-run'] === true;
    return withDeps(env, async (deps) => {
      const input: Readable = path === '-' ? io.openStdin() : createReadStream(path);
      const lines = createInterface({ input, crlfDelay: Infinity });
      const counts = { created: 0, exists: 0, would_create: 0, failed: 0 };
      // A dry run writes nothing, so it remembers the addresses it would create: a second
      // line with the same address is reported as a real run would report it.
      const wouldCreate = new Set<string>();
      const source = format === 'csv' ? csvRows(lines) : jsonLines(lines);
      for await (const { line, fields } of source) {
        try {
          if (fields instanceof Error) throw new ImportRecordError(fields.message);
          const record = toImportRecord(fields);
          let outcome = await deps.services.userImport.importRecord(record, { dryRun });
          if (outcome === 'would_create') {
            if (wouldCreate.has(record.email)) outcome = 'exists';
            else wouldCreate.add(record.email);
          }
          counts[outcome] += 1;
          const note =
            outcome !== 'exists' && record.passwordHash === null
              ? ' (no password: must reset it)'
              : '';
          io.out(`line ${line}: ${OUTCOME_WORDS[outcome]} ${record.email}${note}`);
        } catch (error) {
          if (!(error instanceof ImportRecordError)) throw error;
          counts.failed += 1;
          io.out(`line ${line}: failed: ${error.message}`);
        }
      }
      io.out(
        `${dryRun ? 'dry run: ' : ''}${counts.created + counts.would_create} ${
          dryRun ? 'would be created' : 'created'
        }, ${counts.exists} already existed, ${counts.failed} failed`,
      );
      return counts.failed > 0 ? EXIT_FAILED : EXIT_OK;
    });
  },
};

function describeUser(user: UserView): string {
  return [
    user.id,
    user.email,
    user.name ?? '-',
    user.roles.join(',') || '-',
    user.is_active ? 'yes' : 'no',
    user.created_at,
  ].join('\t');
}

export const usersList: Command = {
  summary: 'list users, newest first',
  usage:
    'hyperion-auth users list [--q TEXT] [--role ROLE] [--active | --inactive] [--limit N] [--json]\n\n' +
    'Lists users newest first: --q matches part of the e-mail or name, --role a role held\n' +
    'directly or through a group. Prints tab-separated columns (id, email, name, roles,\n' +
    'active, created) under a header, or one JSON object per line with --json. At most\n' +
    '--limit users (default 50), fetched a page at a time.',
  async run(args, env, io) {
    const values = parse(args, {
      q: { type: 'string' },
      role: { type: 'string' },
      active: { type: 'boolean' },
      inactive: { type: 'boolean' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values['active'] && values['inactive'])
      throw new UsageError('give --active or --inactive, not both');
    const limitText = stringOption(values, 'limit') ?? '50';
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1) throw new UsageError('--limit is a positive number');
    const active = values['active'] ? true : values['inactive'] ? false : undefined;
    return withDeps(env, async (deps) => {
      let cursor: string | undefined;
      let printed = 0;
      if (!values['json']) io.out(['id', 'email', 'name', 'roles', 'active', 'created'].join('\t'));
      do {
        const page = await deps.services.adminUsers.list({
          q: stringOption(values, 'q'),
          role: stringOption(values, 'role'),
          active,
          limit: Math.min(100, limit - printed),
          cursor,
        });
        for (const user of page.items)
          io.out(values['json'] ? JSON.stringify(user) : describeUser(user));
        printed += page.items.length;
        cursor = page.next_cursor ?? undefined;
      } while (cursor && printed < limit);
      return EXIT_OK;
    });
  },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function findUserId(deps: Deps, emailOrId: string): Promise<string | undefined> {
  if (UUID.test(emailOrId)) return (await deps.services.accounts.findUser(emailOrId))?.id;
  return (await deps.services.accounts.findUserByEmail(emailOrId))?.id;
}

export const sessionsRevoke: Command = {
  summary: "sign a user out everywhere (every session's tokens refused at once)",
  usage:
    'hyperion-auth sessions revoke --user EMAIL_OR_ID\n\n' +
    'Revokes every session of the user: their refresh tokens stop at once and access tokens\n' +
    'are refused by every instance. The account itself stays usable (sign-in works).',
  async run(args, env, io: CliIo) {
    const values = parse(args, { user: { type: 'string' } });
    const who = stringOption(values, 'user');
    if (!who) throw new UsageError('--user is required');
    return withDeps(env, async (deps) => {
      const userId = await findUserId(deps, who);
      if (!userId) {
        io.err(`hyperion-auth sessions revoke: no user ${who}`);
        return EXIT_FAILED;
      }
      const revoked = await deps.services.sessions.revokeAllForUser(userId, 'revoked_by_operator');
      await deps.services.audit.record({
        type: 'user.signout',
        actorId: null,
        userId,
        data: { all: true, by_operator: true, session_ids: revoked },
      });
      io.out(`signed out every session of ${who} (${revoked.length} revoked)`);
      return EXIT_OK;
    });
  },
};
