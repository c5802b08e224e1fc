import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('refresh_tokens')
    // The child a spent token was exchanged for (its hash) ...
    .addColumn('replaced_by', 'text')
    // ... and the child pair sealed with a key only the spent token's holder can derive,
    // so a retry inside the reuse window gets the same pair without storing it in clear.
    .addColumn('child_sealed', 'text')
    .execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    // No foreign keys: the trail outlives the accounts it mentions, keeping only their ids.
    .addColumn('actor_id', 'uuid')
    .addColumn('user_id', 'uuid')
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('data', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  // Newest-first keyset pagination, overall and per user / per type; retention deletes by `at`.
  await db.schema
    .createIndex('audit_events_at_id_idx')
    .on('audit_events')
    .columns(['at', 'id'])
    .execute();
  await db.schema
    .createIndex('audit_events_user_id_at_idx')
    .on('audit_events')
    .columns(['user_id', 'at', 'id'])
    .execute();
  await db.schema
    .createIndex('audit_events_type_at_idx')
    .on('audit_events')
    .columns(['type', 'at', 'id'])
    .execute();
  // Listing a user's live sessions.
  await db.schema
    .createIndex('sessions_user_id_active_idx')
    .on('sessions')
    .columns(['user_id', 'created_at'])
    .where(sql.ref('revoked_at'), 'is', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('sessions_user_id_active_idx').ifExists().execute();
  await db.schema.dropTable('audit_events').ifExists().execute();
  await db.schema
    .alterTable('refresh_tokens')
    .dropColumn('child_sealed')
    .dropColumn('replaced_by')
    .execute();
}
