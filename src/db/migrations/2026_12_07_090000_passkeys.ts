import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A user's WebAuthn credentials (passkeys); deleting the user deletes them.
  await db.schema
    .createTable('passkeys')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    // The authenticator's credential id, base64url: how an assertion names its passkey.
    .addColumn('credential_id', 'text', (col) => col.notNull().unique())
    // The COSE public key as the authenticator gave it (only @simplewebauthn reads it).
    .addColumn('public_key', 'bytea', (col) => col.notNull())
    // The signature counter: an assertion must move it forward (or both stay at 0).
    .addColumn('counter', 'bigint', (col) => col.notNull().defaultTo(0))
    .addColumn('transports', sql`text[]`, (col) => col.notNull().defaultTo(sql`'{}'::text[]`))
    // singleDevice (device-bound: amr hwk) or multiDevice (synced: amr swk).
    .addColumn('device_type', 'text', (col) =>
      col.notNull().check(sql`device_type in ('singleDevice', 'multiDevice')`),
    )
    .addColumn('backed_up', 'boolean', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    // Set when an assertion's counter went backwards: a sign of a cloned authenticator.
    .addColumn('counter_regressed_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('passkeys_user_id_idx').on('passkeys').column('user_id').execute();

  // The challenge of one ceremony: stored as SHA-256 only, single use (deleted when taken),
  // five minutes. In the database, so any instance can finish a ceremony another began.
  await db.schema
    .createTable('passkey_challenges')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('challenge_hash', 'text', (col) => col.notNull().unique())
    .addColumn('purpose', 'text', (col) =>
      col.notNull().check(sql`purpose in ('register', 'signin', 'mfa')`),
    )
    // register and mfa: whose ceremony it is; signin: the user an e-mail named, if any.
    .addColumn('user_id', 'uuid', (col) => col.references('users.id').onDelete('cascade'))
    // mfa: the SHA-256 of the sign-in's MFA token the passkey is to answer.
    .addColumn('mfa_token_hash', 'text')
    // register: the name asked for with the options, if the verify call gives none.
    .addColumn('passkey_name', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('passkey_challenges_expires_at_idx')
    .on('passkey_challenges')
    .column('expires_at')
    .execute();

  // One row: the key of the stand-in credential ids shown for an unknown e-mail, the same on
  // every instance (the first to need it stores it; the others read it).
  await db.schema
    .createTable('passkey_settings')
    .addColumn('id', 'smallint', (col) => col.primaryKey().check(sql`id = 1`))
    .addColumn('decoy_key', 'text', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('passkey_settings').ifExists().execute();
  await db.schema.dropTable('passkey_challenges').ifExists().execute();
  await db.schema.dropTable('passkeys').ifExists().execute();
}
