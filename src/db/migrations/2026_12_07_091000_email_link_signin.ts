import { type Kysely, sql } from 'kysely';

// Sign-in by e-mail link: a third purpose of e-mail token, and what binds a link to the
// browser that asked for it (from /login): the SHA-256 of a random nonce kept in that
// browser's cookie, and the pending authorization request and return path sealed under the
// nonce (crypto/token-seal.ts), so neither is kept in clear and only that browser can open them.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table email_tokens drop constraint email_tokens_purpose_check`.execute(db);
  await sql`alter table email_tokens add constraint email_tokens_purpose_check
    check (purpose in ('verify_email', 'reset_password', 'email_signin'))`.execute(db);
  await db.schema
    .alterTable('email_tokens')
    .addColumn('binding_hash', 'text')
    .addColumn('binding_sealed', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('email_tokens').where('purpose', '=', 'email_signin').execute();
  await db.schema
    .alterTable('email_tokens')
    .dropColumn('binding_hash')
    .dropColumn('binding_sealed')
    .execute();
  await sql`alter table email_tokens drop constraint email_tokens_purpose_check`.execute(db);
  await sql`alter table email_tokens add constraint email_tokens_purpose_check
    check (purpose in ('verify_email', 'reset_password'))`.execute(db);
}
