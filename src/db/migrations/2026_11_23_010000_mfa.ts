import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Read with every user object; kept in step with mfa_totp.confirmed_at by the MFA service.
  await db.schema
    .alterTable('users')
    .addColumn('mfa_enabled', 'boolean', (col) => col.notNull().defaultTo(false))
    .execute();

  // One TOTP authenticator per user: pending until confirmed with a first code.
  await db.schema
    .createTable('mfa_totp')
    .addColumn('user_id', 'uuid', (col) =>
      col.primaryKey().references('users.id').onDelete('cascade'),
    )
    .addColumn('secret', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('confirmed_at', 'timestamptz')
    // The RFC 6238 time step of the last accepted code: a code is never accepted twice.
    .addColumn('last_time_step', 'bigint')
    .execute();

  await db.schema
    .createTable('mfa_recovery_codes')
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    // SHA-256 of the code, hex; the codes are shown once and never stored.
    .addColumn('code_hash', 'text', (col) => col.notNull())
    .addColumn('used_at', 'timestamptz')
    .addPrimaryKeyConstraint('mfa_recovery_codes_pkey', ['user_id', 'code_hash'])
    .execute();

  // The second step of a sign-in: the password checked out, a code is still due.
  await db.schema
    .createTable('mfa_challenges')
    .addColumn('token_hash', 'text', (col) => col.primaryKey())
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('mfa_challenges_user_id_idx')
    .on('mfa_challenges')
    .column('user_id')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('mfa_challenges').ifExists().execute();
  await db.schema.dropTable('mfa_recovery_codes').ifExists().execute();
  await db.schema.dropTable('mfa_totp').ifExists().execute();
  await db.schema.alterTable('users').dropColumn('mfa_enabled').execute();
}
