import { type Kysely, sql } from 'kysely';

// RFC 7591 dynamic client registration: a client says how it came to be, so admins can tell
// the ones anybody registered from the ones they made, and so that no self-registered client
// can ever be first-party (which would skip consent).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('oauth_clients')
    .addColumn('registration', 'text', (col) => col.notNull().defaultTo('admin'))
    .execute();
  await db.schema
    .alterTable('oauth_clients')
    .addCheckConstraint(
      'oauth_clients_registration_check',
      sql`registration in ('admin', 'dynamic')`,
    )
    .execute();
  await db.schema
    .alterTable('oauth_clients')
    .addCheckConstraint(
      'oauth_clients_dynamic_not_first_party_check',
      sql`registration = 'admin' or not first_party`,
    )
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('oauth_clients').dropColumn('registration').execute();
}
