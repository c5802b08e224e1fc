import { type Kysely, sql } from 'kysely';

// Protected APIs (RFC 8707 resource indicators): what a token may be bound to, and the scopes
// each defines.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('api_resources')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    // An absolute URI, compared as a string (RFC 8707 §2): the tokens' `aud`.
    .addColumn('identifier', 'text', (col) => col.notNull().unique())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('scopes', 'jsonb', (col) => col.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('access_token_ttl', 'integer')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('api_resources_created_at_id_idx')
    .on('api_resources')
    .columns(['created_at', 'id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('api_resources').ifExists().execute();
}
