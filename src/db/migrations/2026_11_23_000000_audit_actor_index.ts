import type { Kysely } from 'kysely';

// The admin API filters audit events by actor ("what did this admin do"), newest first.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('audit_events_actor_id_at_idx')
    .on('audit_events')
    .columns(['actor_id', 'at', 'id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_events_actor_id_at_idx').ifExists().execute();
}
