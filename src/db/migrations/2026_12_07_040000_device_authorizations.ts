import { type Kysely, sql } from 'kysely';

// RFC 8628 device authorization: a device (a CLI, a headless agent) asks for a grant, the
// person approves it in a browser at /device with the short user code, the device polls the
// token endpoint with the long device code. Both codes are stored only as SHA-256.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('device_authorizations')
    .addColumn('device_code_hash', 'text', (col) => col.primaryKey())
    .addColumn('user_code_hash', 'text', (col) => col.notNull().unique())
    .addColumn('client_id', 'text', (col) => col.notNull())
    .addColumn('scopes', sql`text[]`, (col) => col.notNull())
    .addColumn('resource', 'text')
    .addColumn('status', 'text', (col) =>
      col.notNull().check(sql`status in ('pending', 'approved', 'denied', 'spent')`),
    )
    // Who approved, in which browser sign-in (the client session opens under it).
    .addColumn('user_id', 'uuid', (col) => col.references('users.id').onDelete('cascade'))
    .addColumn('browser_session_id', 'uuid', (col) =>
      col.references('sessions.id').onDelete('set null'),
    )
    .addColumn('auth_time', 'timestamptz')
    .addColumn('amr', sql`text[]`)
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('last_polled_at', 'timestamptz')
    // Seconds the device must wait between polls; each slow_down adds 5 (RFC 8628 §3.5).
    .addColumn('interval', 'integer', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('device_authorizations_expires_at_idx')
    .on('device_authorizations')
    .column('expires_at')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('device_authorizations').ifExists().execute();
}
