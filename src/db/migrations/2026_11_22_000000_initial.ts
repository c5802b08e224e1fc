import { type Kysely, sql } from 'kysely';

// Migrations are written against Kysely<any>: they describe the schema as it was at
// their time, not as the current Database type says.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('email', 'text', (col) => col.notNull())
    .addColumn('email_verified', 'boolean', (col) => col.notNull().defaultTo(false))
    .addColumn('name', 'text')
    .addColumn('is_active', 'boolean', (col) => col.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('last_signin_at', 'timestamptz')
    .addCheckConstraint('users_email_normalized_check', sql`email = lower(btrim(email))`)
    .execute();
  // Case-insensitive uniqueness: the application stores e-mails lower-cased, and the
  // index on lower(email) keeps that true even for a row written by hand.
  await sql`create unique index users_email_key on users (lower(email))`.execute(db);
  // Keyset pagination of user lists (newest first) walks this index.
  await db.schema
    .createIndex('users_created_at_id_idx')
    .on('users')
    .columns(['created_at', 'id'])
    .execute();

  await db.schema
    .createTable('credentials')
    .addColumn('user_id', 'uuid', (col) =>
      col.primaryKey().references('users.id').onDelete('cascade'),
    )
    .addColumn('password_hash', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('profiles')
    .addColumn('user_id', 'uuid', (col) =>
      col.primaryKey().references('users.id').onDelete('cascade'),
    )
    .addColumn('full_name', 'text')
    .addColumn('avatar_url', 'text')
    .addColumn('phone', 'text')
    .addColumn('locale', 'text')
    .addColumn('timezone', 'text')
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('roles')
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('description', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('permissions', sql`text[]`, (col) => col.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('built_in', 'boolean', (col) => col.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('roles_name_format_check', sql`name ~ '^[a-z][a-z0-9_:.-]{0,63}$'`)
    .execute();
  await db
    .insertInto('roles')
    .values([
      {
        name: 'admin',
        description: 'Full access to every resource',
        permissions: sql`array['*']::text[]`,
        built_in: true,
      },
      { name: 'user', description: 'A signed-up user', built_in: true },
    ])
    .execute();

  await db.schema
    .createTable('user_roles')
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role_name', 'text', (col) =>
      col.notNull().references('roles.name').onDelete('cascade').onUpdate('cascade'),
    )
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('user_roles_pkey', ['user_id', 'role_name'])
    .execute();
  // "Who has role X" (is there an admin yet? filter users by role).
  await db.schema
    .createIndex('user_roles_role_name_idx')
    .on('user_roles')
    .column('role_name')
    .execute();

  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'text', (col) => col.primaryKey())
    .addColumn('algorithm', 'text', (col) => col.notNull())
    .addColumn('public_jwk', 'jsonb')
    .addColumn('private_jwk', 'jsonb')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('retired_at', 'timestamptz')
    .addColumn('verify_until', 'timestamptz')
    .execute();
  // At most one key signs at a time.
  await sql`create unique index signing_keys_one_current_key on signing_keys ((true)) where retired_at is null`.execute(
    db,
  );

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz', (col) => col.notNull())
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('absolute_expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revoked_reason', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('ip', 'text')
    .execute();
  await db.schema.createIndex('sessions_user_id_idx').on('sessions').column('user_id').execute();

  await db.schema
    .createTable('refresh_tokens')
    .addColumn('token_hash', 'text', (col) => col.primaryKey())
    .addColumn('session_id', 'uuid', (col) =>
      col.notNull().references('sessions.id').onDelete('cascade'),
    )
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('spent_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('refresh_tokens_session_id_idx')
    .on('refresh_tokens')
    .column('session_id')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'refresh_tokens',
    'sessions',
    'signing_keys',
    'user_roles',
    'roles',
    'profiles',
    'credentials',
    'users',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
