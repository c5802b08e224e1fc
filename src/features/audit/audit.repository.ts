import type { Insertable } from 'kysely';
import { newestFirstPage } from '../../db/keyset.js';
import type { Db } from '../../db/create-db.js';
import type { AuditEventRow, AuditOutcome, AuditEventsTable } from '../../db/database.js';
import type { KeysetCursor } from '../../lib/cursor.js';

export interface AuditFilter {
  userId?: string | undefined;
  actorId?: string | undefined;
  type?: string | undefined;
  outcome?: AuditOutcome | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

/** Newest first on (at, id); each filter has an index that leads with it. */
export async function listEvents(
  db: Db,
  filter: AuditFilter,
  page: { limit: number; after?: KeysetCursor | undefined },
): Promise<AuditEventRow[]> {
  let query = db.selectFrom('audit_events').selectAll();
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  if (filter.actorId !== undefined) query = query.where('actor_id', '=', filter.actorId);
  if (filter.type !== undefined) query = query.where('type', '=', filter.type);
  if (filter.outcome !== undefined) query = query.where('outcome', '=', filter.outcome);
  if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
  if (filter.until !== undefined) query = query.where('at', '<', filter.until);
  return newestFirstPage(query, { at: 'at', id: 'id' }, page).execute();
}

/** Deletes up to `batch` events older than `before`; returns how many went. */
export async function deleteOlderThan(db: Db, before: Date, batch: number): Promise<number> {
  const result = await db
    .deleteFrom('audit_events')
    .where('id', 'in', (eb) =>
      eb.selectFrom('audit_events').select('id').where('at', '<', before).limit(batch),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Appends an event (the trail is append-only: nothing else here changes one). */
export async function insertEvent(db: Db, event: Insertable<AuditEventsTable>): Promise<void> {
  await db.insertInto('audit_events').values(event).execute();
}

/** Blanks the address and user agent of every event the user appears in, as subject or actor. */
export async function erasePersonalData(db: Db, userId: string): Promise<void> {
  await db
    .updateTable('audit_events')
    .set({ ip: null, user_agent: null })
    .where((eb) => eb.or([eb('user_id', '=', userId), eb('actor_id', '=', userId)]))
    .execute();
}
