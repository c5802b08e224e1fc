import { type Kysely, sql } from 'kysely';

// The revocation feed walks revoked sessions in the order they were revoked.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index sessions_revoked_at_idx on sessions (revoked_at, id)
    where revoked_at is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists sessions_revoked_at_idx`.execute(db);
}
