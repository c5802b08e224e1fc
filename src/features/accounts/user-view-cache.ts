import type { Db } from '../../db/create-db.js';
import { setBounded } from '../../lib/bounded-map.js';
import type { Broadcast } from '../../lib/broadcast.js';
import { findUserById } from './accounts.repository.js';
import type { UserWithRoles } from './accounts.types.js';

/** Ids of users whose row or effective roles changed; `*` (EVERY_USER) for all of them. */
export const USERS_CHANGED_CHANNEL = 'hyperion-auth:users:changed';
/** Every user changed: a role deleted, a group's roles replaced, the group deleted. */
export const EVERY_USER = '*';

// How long a user is answered from the cache without asking the database, while Redis
// delivers changes (a safety net: changes themselves reach every instance at once).
const MAX_AGE_MS = 30_000;
const MAX_ENTRIES = 100_000;

interface Entry {
  user: UserWithRoles;
  /** When the database read began. */
  readAt: number;
  /** The broadcast's epoch the read began in. */
  epoch: number;
}

/** A database read in progress; marked stale when its user changes before it ends. */
interface Read {
  stale: boolean;
}

/**
 * A user with their effective roles, as GET /api/auth/me shows them, kept per instance. The
 * database is the truth: the cache answers only while the broadcast is trusted (Redis is
 * configured and the subscription confirmed), and every writer of what it shows calls
 * `changed` (AccountsService.usersChanged) once its transaction has committed, which drops
 * the user here and on every other instance. Without Redis, or while it is down, every read
 * goes to the database.
 */
export class UserViewCache {
  readonly #entries = new Map<string, Entry>();
  readonly #reads = new Map<string, Set<Read>>();
  /** Moves on whenever every entry is dropped; a read that began before is not stored. */
  #generation = 0;

  constructor(
    private readonly options: {
      broadcast: Broadcast;
      /** The database's answer (the one query; see createUserViewCache). */
      load: (userId: string) => Promise<UserWithRoles | undefined>;
    },
  ) {
    options.broadcast.channel(USERS_CHANGED_CHANNEL, {
      received: (userIds) => this.#forget(userIds),
      resubscribed: () => this.#forgetAll(),
      everyId: EVERY_USER,
    });
  }

  /** Whether reads are answered from the cache right now. */
  get trusted(): boolean {
    return this.options.broadcast.trusted;
  }

  /** The user and their roles; from the cache when it can be trusted. Never caches "none". */
  async find(userId: string): Promise<UserWithRoles | undefined> {
    const { broadcast, load } = this.options;
    if (!broadcast.trusted) return load(userId);
    const epoch = broadcast.epoch;
    const entry = this.#entries.get(userId);
    if (entry && entry.epoch === epoch && Date.now() - entry.readAt <= MAX_AGE_MS)
      return entry.user;
    // Taken before the read: a change committed after this point is announced after it, and
    // marks this read stale (or moves the generation or the epoch) before it could be stored.
    const generation = this.#generation;
    const readAt = Date.now();
    const read: Read = { stale: false };
    this.#startRead(userId, read);
    try {
      const user = await load(userId);
      const current =
        !read.stale &&
        generation === this.#generation &&
        epoch === broadcast.epoch &&
        broadcast.trusted;
      if (user && current) this.#remember(userId, { user: frozen(user), readAt, epoch });
      return user;
    } finally {
      this.#endRead(userId, read);
    }
  }

  /** After the commit that changed these users: dropped here and on every instance. */
  async changed(userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    this.#forget(userIds);
    await this.options.broadcast.publish(USERS_CHANGED_CHANNEL, [...new Set(userIds)]);
  }

  /** After a commit that changed users without a list of them: everything is dropped. */
  async everyoneChanged(): Promise<void> {
    await this.changed([EVERY_USER]);
  }

  #forget(userIds: readonly string[]): void {
    for (const id of userIds) {
      if (id === EVERY_USER) {
        this.#forgetAll();
        continue;
      }
      this.#entries.delete(id);
      for (const read of this.#reads.get(id) ?? []) read.stale = true;
    }
  }

  #forgetAll(): void {
    this.#entries.clear();
    this.#generation += 1;
  }

  #remember(userId: string, entry: Entry): void {
    setBounded(this.#entries, userId, entry, MAX_ENTRIES);
  }

  #startRead(userId: string, read: Read): void {
    const reads = this.#reads.get(userId);
    if (reads) reads.add(read);
    else this.#reads.set(userId, new Set([read]));
  }

  #endRead(userId: string, read: Read): void {
    const reads = this.#reads.get(userId);
    reads?.delete(read);
    if (reads?.size === 0) this.#reads.delete(userId);
  }
}

/** The cache over the accounts repository's user-with-roles query. */
export function createUserViewCache(db: Db, broadcast: Broadcast): UserViewCache {
  return new UserViewCache({ broadcast, load: (userId) => findUserById(db, userId) });
}

/** Shared by every request that reads it: a caller that changed it would change it for all. */
function frozen(user: UserWithRoles): UserWithRoles {
  Object.freeze(user.roles);
  return Object.freeze(user);
}
