import type { Migration } from 'kysely/migration';
import * as initial from './2026_11_22_000000_initial.js';

/**
 * Every migration, by name. Listed here rather than read from the folder so that the
 * compiled service finds them wherever it is installed; names sort in the order they run.
 */
export const migrations: Record<string, Migration> = {
  '2026_11_22_000000_initial': initial,
};
