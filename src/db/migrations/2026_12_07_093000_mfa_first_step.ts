import { type Kysely, sql } from 'kysely';

// What the first step of a sign-in was, kept with its second step's challenge: a password, or
// an e-mail link. The second step's `amr` and audit then say how the person really began
// (`otp` for a link), rather than claiming a password nobody typed.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('mfa_challenges')
    .addColumn('first_step', 'text', (column) =>
      column
        .notNull()
        .defaultTo('password')
        .check(sql`first_step in ('password', 'email_link')`),
    )
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('mfa_challenges').dropColumn('first_step').execute();
}
