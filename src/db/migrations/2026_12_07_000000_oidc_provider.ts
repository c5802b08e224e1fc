import { type Kysely, sql } from 'kysely';

// The OpenID Connect provider: registered clients, pending authorization requests, codes,
// consents, and the sessions table's new kinds (a browser's sign-in at /login, and a client's
// grant, whose tokens live in a session of their own under the browser's).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('oauth_clients')
    .addColumn('client_id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    // SHA-256 of a high-entropy generated secret (as service accounts'); null for public clients.
    .addColumn('secret_hash', 'text')
    .addColumn('redirect_uris', sql`text[]`, (col) => col.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('post_logout_redirect_uris', sql`text[]`, (col) =>
      col.notNull().defaultTo(sql`'{}'::text[]`),
    )
    .addColumn('grant_types', sql`text[]`, (col) => col.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('scopes', sql`text[]`, (col) => col.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('first_party', 'boolean', (col) => col.notNull().defaultTo(false))
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('secret_rotated_at', 'timestamptz')
    .addCheckConstraint('oauth_clients_type_check', sql`type in ('confidential', 'public')`)
    .addCheckConstraint(
      'oauth_clients_secret_check',
      sql`(type = 'confidential') = (secret_hash is not null)`,
    )
    .execute();
  await db.schema
    .createIndex('oauth_clients_created_at_idx')
    .on('oauth_clients')
    .columns(['created_at', 'client_id'])
    .execute();

  // Sessions: 'api' (sign-in through the API, as before), 'browser' (the cookie of /login) and
  // 'client' (an OAuth client's grant: its refresh tokens and access tokens, under the browser
  // session it was authorized in). One table, so every revocation path covers all three.
  await db.schema
    .alterTable('sessions')
    .addColumn('kind', 'text', (col) => col.notNull().defaultTo('api'))
    .addColumn('client_id', 'text')
    .addColumn('parent_id', 'uuid', (col) => col.references('sessions.id').onDelete('set null'))
    .addColumn('auth_time', 'timestamptz')
    .addColumn('amr', sql`text[]`)
    .addColumn('scopes', sql`text[]`)
    .addColumn('resource', 'text')
    // SHA-256 of the browser session cookie; only 'browser' sessions have one.
    .addColumn('browser_token_hash', 'text', (col) => col.unique())
    .execute();
  await sql`alter table sessions add constraint sessions_kind_check
    check (kind in ('api', 'browser', 'client'))`.execute(db);
  await db.schema
    .createIndex('sessions_parent_id_idx')
    .on('sessions')
    .column('parent_id')
    .execute();
  await sql`create index sessions_user_client_idx on sessions (user_id, client_id) where client_id is not null`.execute(
    db,
  );

  // An /oauth/authorize request waiting for the person to sign in or consent. Looked up by
  // the hash of the opaque id the pages carry; the parameters were validated before storing.
  await db.schema
    .createTable('authorization_requests')
    .addColumn('id_hash', 'text', (col) => col.primaryKey())
    .addColumn('client_id', 'text', (col) => col.notNull())
    .addColumn('params', 'jsonb', (col) => col.notNull())
    // The browser session a sign-in at /login opened for this very request (prompt=login and
    // max_age are then satisfied).
    .addColumn('session_id', 'uuid', (col) => col.references('sessions.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('authorization_requests_expires_at_idx')
    .on('authorization_requests')
    .column('expires_at')
    .execute();

  await db.schema
    .createTable('authorization_codes')
    .addColumn('code_hash', 'text', (col) => col.primaryKey())
    .addColumn('client_id', 'text', (col) => col.notNull())
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('browser_session_id', 'uuid', (col) =>
      col.notNull().references('sessions.id').onDelete('cascade'),
    )
    .addColumn('redirect_uri', 'text', (col) => col.notNull())
    .addColumn('code_challenge', 'text', (col) => col.notNull())
    .addColumn('nonce', 'text')
    .addColumn('scopes', sql`text[]`, (col) => col.notNull())
    .addColumn('resource', 'text')
    .addColumn('auth_time', 'timestamptz', (col) => col.notNull())
    .addColumn('amr', sql`text[]`, (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('spent_at', 'timestamptz')
    // The client session the exchange opened: revoked if the code is presented again.
    .addColumn('issued_session_id', 'uuid', (col) =>
      col.references('sessions.id').onDelete('set null'),
    )
    .execute();
  await db.schema
    .createIndex('authorization_codes_expires_at_idx')
    .on('authorization_codes')
    .column('expires_at')
    .execute();

  await db.schema
    .createTable('oauth_consents')
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('client_id', 'text', (col) => col.notNull())
    .addColumn('scopes', sql`text[]`, (col) => col.notNull())
    .addColumn('granted_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('oauth_consents_pkey', ['user_id', 'client_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('oauth_consents').ifExists().execute();
  await db.schema.dropTable('authorization_codes').ifExists().execute();
  await db.schema.dropTable('authorization_requests').ifExists().execute();
  await sql`drop index if exists sessions_user_client_idx`.execute(db);
  await db.schema.dropIndex('sessions_parent_id_idx').ifExists().execute();
  await sql`alter table sessions drop constraint sessions_kind_check`.execute(db);
  await db.schema
    .alterTable('sessions')
    .dropColumn('browser_token_hash')
    .dropColumn('resource')
    .dropColumn('scopes')
    .dropColumn('amr')
    .dropColumn('auth_time')
    .dropColumn('parent_id')
    .dropColumn('client_id')
    .dropColumn('kind')
    .execute();
  await db.schema.dropTable('oauth_clients').ifExists().execute();
}
