import { type Kysely, sql } from 'kysely';

// The revocation feed in commit order. A keyset on (revoked_at, id) could pass over a
// revocation whose transaction committed after a reader had read past its timestamp (or whose
// instance's clock ran behind another's), and that session's tokens would go on being accepted
// downstream until they expired. Now each revocation is numbered as its transaction commits:
// a deferred trigger takes a transaction-scoped advisory lock, held for the instant until the
// commit, and a number from a sequence. Numbers therefore become visible in order, and a
// reader that has seen N has seen everything up to N. Doing it in the database numbers every
// revocation, whichever code path wrote it, and the lock is taken after the transaction's own
// work, so it cannot wait on a row lock while holding it.
const LOCK_KEY = 7_215_630_401; // any constant; names the feed's lock

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create sequence session_revocation_seq`.execute(db);
  await db.schema.alterTable('sessions').addColumn('revocation_seq', 'bigint').execute();
  await sql`with ordered as (
      select id, row_number() over (order by revoked_at, id) as n
      from sessions where revoked_at is not null
    )
    update sessions s set revocation_seq = ordered.n from ordered where s.id = ordered.id`.execute(
    db,
  );
  await sql`select setval('session_revocation_seq',
      coalesce((select max(revocation_seq) from sessions), 0) + 1, false)`.execute(db);
  await sql`create unique index sessions_revocation_seq_idx on sessions (revocation_seq)
    where revocation_seq is not null`.execute(db);
  await sql
    .raw(
      `create function number_session_revocation() returns trigger language plpgsql as $$
      begin
        perform pg_advisory_xact_lock(${LOCK_KEY});
        update sessions set revocation_seq = nextval('session_revocation_seq') where id = new.id;
        return null;
      end $$`,
    )
    .execute(db);
  await sql`create constraint trigger sessions_number_revocation
    after update of revoked_at on sessions deferrable initially deferred for each row
    when (old.revoked_at is null and new.revoked_at is not null)
    execute function number_session_revocation()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists sessions_number_revocation on sessions`.execute(db);
  await sql`drop function if exists number_session_revocation()`.execute(db);
  await sql`drop index if exists sessions_revocation_seq_idx`.execute(db);
  await db.schema.alterTable('sessions').dropColumn('revocation_seq').execute();
  await sql`drop sequence if exists session_revocation_seq`.execute(db);
}
