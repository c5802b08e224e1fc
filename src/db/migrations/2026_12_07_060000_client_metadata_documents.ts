import { type Kysely, sql } from 'kysely';

// Client ID metadata documents: a client whose client_id is the HTTPS URL of its own metadata
// is kept in oauth_clients (so sessions, consents and the admin list work as for any client),
// registered as 'metadata_document', with the time its fetched copy goes stale.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('oauth_clients')
    .dropConstraint('oauth_clients_registration_check')
    .execute();
  await db.schema
    .alterTable('oauth_clients')
    .addCheckConstraint(
      'oauth_clients_registration_check',
      sql`registration in ('admin', 'dynamic', 'metadata_document')`,
    )
    .execute();
  await db.schema
    .alterTable('oauth_clients')
    .addColumn('metadata_expires_at', 'timestamptz')
    .execute();
  // Only a metadata-document client has a copy that expires, and it always has one.
  await db.schema
    .alterTable('oauth_clients')
    .addCheckConstraint(
      'oauth_clients_metadata_expiry_check',
      sql`(registration = 'metadata_document') = (metadata_expires_at is not null)`,
    )
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('oauth_clients').where('registration', '=', 'metadata_document').execute();
  await db.schema
    .alterTable('oauth_clients')
    .dropConstraint('oauth_clients_metadata_expiry_check')
    .execute();
  await db.schema.alterTable('oauth_clients').dropColumn('metadata_expires_at').execute();
  await db.schema
    .alterTable('oauth_clients')
    .dropConstraint('oauth_clients_registration_check')
    .execute();
  await db.schema
    .alterTable('oauth_clients')
    .addCheckConstraint(
      'oauth_clients_registration_check',
      sql`registration in ('admin', 'dynamic')`,
    )
    .execute();
}
