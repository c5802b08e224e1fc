import { type SelectQueryBuilder, sql } from 'kysely';
import type { KeysetCursor } from '../lib/cursor.js';

/**
 * One page of a newest-first keyset list: rows strictly after the cursor in
 * (`at` desc, `id` desc) order, plus one more row that only says whether another page
 * follows (see toPage). Rows added meanwhile are newer than any cursor handed out, so pages
 * never skip or repeat one; the row comparison uses the (at, id) index.
 */
export function newestFirstPage<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  columns: { at: string; id: string },
  page: { limit: number; after?: KeysetCursor | undefined },
): SelectQueryBuilder<DB, TB, O> {
  const at = sql.ref(columns.at);
  const id = sql.ref(columns.id);
  const after = page.after;
  const filtered = after
    ? query.where(sql<boolean>`(${at}, ${id}) < (${after.at}, ${after.id})`)
    : query;
  return filtered
    .orderBy(at, 'desc')
    .orderBy(id, 'desc')
    .limit(page.limit + 1);
}
