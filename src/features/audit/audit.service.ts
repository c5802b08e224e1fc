import type { Db } from '../../db/create-db.js';
import type { AuditEventRow, AuditOutcome } from '../../db/database.js';
import { decodeCursor, toPage } from '../../lib/cursor.js';
import { PeriodicJob } from '../../lib/periodic-job.js';
import * as repo from './audit.repository.js';
import type { AuditEventView } from './audit.schemas.js';
import type { AuditEventType } from './audit.types.js';
import type { Clock } from '../../lib/clock.js';

export interface AuditEventInput {
  type: AuditEventType;
  /** Who did it (null for the anonymous or the system). */
  actorId?: string | null;
  /** Whom it concerns. */
  userId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** `failure` for refused attempts (a wrong password, a replayed refresh token). */
  outcome?: AuditOutcome;
  /** Small, non-secret context: never a password, token, hash or code. */
  data?: Record<string, unknown>;
}

const USER_AGENT_MAX = 512;
const RETENTION_BATCH = 1_000;
const RETENTION_INTERVAL_MS = 60 * 60 * 1000;

export interface AuditServiceDeps {
  db: Db;
  clock: Clock;
  /** Seconds an event is kept (AUDIT_RETENTION). */
  retention: number;
  onBackgroundError?: ((error: unknown) => void) | undefined;
}

export interface AuditListRequest extends repo.AuditFilter {
  limit: number;
  cursor?: string | undefined;
}

function toView(row: AuditEventRow): AuditEventView {
  return {
    id: row.id,
    type: row.type,
    at: row.at.toISOString(),
    actor_id: row.actor_id,
    user_id: row.user_id,
    ip: row.ip,
    user_agent: row.user_agent,
    outcome: row.outcome,
    data: row.data,
  };
}

/**
 * The audit trail, append-only: features record what happened, and no event is changed
 * afterwards — with one exception, erasure: when an account is deleted, `forgetPersonalData`
 * blanks the address and user agent of the events it appears in. Events older than
 * AUDIT_RETENTION are deleted.
 */
export class AuditService {
  readonly #retention: PeriodicJob;

  constructor(private readonly deps: AuditServiceDeps) {
    this.#retention = new PeriodicJob(
      () => this.runRetentionOnce(),
      RETENTION_INTERVAL_MS,
      (error) => this.deps.onBackgroundError?.(error),
    );
  }

  /** Events newest first, filtered, a keyset page at a time. */
  async list(request: AuditListRequest) {
    const after = request.cursor ? decodeCursor(request.cursor) : undefined;
    const rows = await repo.listEvents(this.deps.db, request, { limit: request.limit, after });
    const { items, next_cursor } = toPage(rows, request.limit, (row) => ({
      at: row.at,
      id: row.id,
    }));
    return { items: items.map(toView), next_cursor };
  }

  /**
   * Deletes events older than the retention period, a batch at a time so no statement holds
   * many locks or a long transaction. Returns how many were deleted.
   */
  async runRetentionOnce(): Promise<number> {
    const before = new Date(this.deps.clock.now().getTime() - this.deps.retention * 1000);
    let total = 0;
    for (;;) {
      const deleted = await repo.deleteOlderThan(this.deps.db, before, RETENTION_BATCH);
      total += deleted;
      if (deleted < RETENTION_BATCH) return total;
    }
  }

  /** Enforces retention now and then hourly, in the background; never two runs at once. */
  startRetention(): void {
    this.#retention.start();
  }

  /** Stops the job, waiting for a run in flight, so the database can close after. */
  async stopRetention(): Promise<void> {
    await this.#retention.stop();
  }

  /** Records an event; pass a transaction to make it part of the change it describes. */
  async record(event: AuditEventInput, db: Db = this.deps.db): Promise<void> {
    await repo.insertEvent(db, {
      type: event.type,
      at: this.deps.clock.now(),
      actor_id: event.actorId ?? null,
      user_id: event.userId ?? null,
      ip: event.ip ?? null,
      user_agent: event.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
      outcome: event.outcome ?? 'success',
      data: JSON.stringify(event.data ?? {}),
    });
  }

  /**
   * After an account is deleted its events keep only the user id: addresses and user agents
   * in which the user appears (as subject or actor) are erased.
   */
  async forgetPersonalData(db: Db, userId: string): Promise<void> {
    await repo.erasePersonalData(db, userId);
  }
}
