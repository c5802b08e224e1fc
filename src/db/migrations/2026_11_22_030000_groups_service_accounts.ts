import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('groups')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('description', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  // Group names are unique regardless of case ("Editors" and "editors" are one group).
  await sql`create unique index groups_name_key on groups (lower(name))`.execute(db);
  // Keyset pagination of the group list.
  await db.schema
    .createIndex('groups_created_at_id_idx')
    .on('groups')
    .columns(['created_at', 'id'])
    .execute();

  await db.schema
    .createTable('group_roles')
    .addColumn('group_id', 'uuid', (col) =>
      col.notNull().references('groups.id').onDelete('cascade'),
    )
    .addColumn('role_name', 'text', (col) =>
      col.notNull().references('roles.name').onDelete('cascade').onUpdate('cascade'),
    )
    .addPrimaryKeyConstraint('group_roles_pkey', ['group_id', 'role_name'])
    .execute();
  await db.schema
    .createIndex('group_roles_role_name_idx')
    .on('group_roles')
    .column('role_name')
    .execute();

  await db.schema
    .createTable('group_members')
    .addColumn('group_id', 'uuid', (col) =>
      col.notNull().references('groups.id').onDelete('cascade'),
    )
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('group_members_pkey', ['group_id', 'user_id'])
    .execute();
  // "Which groups is this user in" (the roles claim at every sign-in and refresh).
  await db.schema
    .createIndex('group_members_user_id_idx')
    .on('group_members')
    .column('user_id')
    .execute();

  // The roles a user holds, directly or through a group: the one definition every
  // check (token claims, authorization, "is there still an admin") reads.
  await sql`
    create view user_effective_roles as
      select user_id, role_name from user_roles
      union
      select gm.user_id, gr.role_name
        from group_members gm
        join group_roles gr on gr.group_id = gm.group_id
  `.execute(db);

  await db.schema
    .createTable('service_accounts')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('client_id', 'text', (col) => col.notNull().unique())
    // SHA-256 of the secret, hex: the secret is 256 random bits, so a slow hash adds nothing
    // but latency; the secret itself is shown once and never stored.
    .addColumn('secret_hash', 'text', (col) => col.notNull())
    .addColumn('scopes', sql`text[]`, (col) => col.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('secret_rotated_at', 'timestamptz')
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('service_accounts_created_at_id_idx')
    .on('service_accounts')
    .columns(['created_at', 'id'])
    .execute();

  // Whether the event was a success or a refusal (a failed sign-in, a refused admin change).
  await db.schema
    .alterTable('audit_events')
    .addColumn('outcome', 'text', (col) => col.notNull().defaultTo('success'))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_events').dropColumn('outcome').execute();
  await db.schema.dropTable('service_accounts').ifExists().execute();
  await sql`drop view if exists user_effective_roles`.execute(db);
  await db.schema.dropTable('group_members').ifExists().execute();
  await db.schema.dropTable('group_roles').ifExists().execute();
  await db.schema.dropTable('groups').ifExists().execute();
}
