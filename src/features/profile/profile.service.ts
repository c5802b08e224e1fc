import type { Db, Trx } from '../../db/create-db.js';
import { AppError, type FieldError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import * as repo from './profile.repository.js';
import type { ProfileChanges, ProfileRow } from './profile.repository.js';
import type { ProfileUpdate, ProfileView } from './profile.schemas.js';

export interface ProfileServiceDeps {
  db: Db;
  clock: Clock;
}

/** The public shape of a profile; built from an allow-list of columns. */
export function toProfileView(row: ProfileRow): ProfileView {
  return {
    user_id: row.user_id,
    full_name: row.full_name,
    avatar_url: row.avatar_url,
    phone: row.phone,
    locale: row.locale,
    timezone: row.timezone,
    updated_at: row.updated_at.toISOString(),
  };
}

/** What a user without a profile row (e.g. an imported one) sees: nothing set yet. */
function emptyProfile(userId: string): ProfileView {
  return {
    user_id: userId,
    full_name: null,
    avatar_url: null,
    phone: null,
    locale: null,
    timezone: null,
    updated_at: null,
  };
}

// Raw whitespace and control characters have no place in a URL; `new URL` would quietly strip
// or encode them, and the stored value would not be what is later rendered.
const URL_FORBIDDEN_CHARACTERS = /[\s\u0000-\u001f\u007f]/;

/**
 * An avatar is rendered by other people's browsers, so only plain web URLs are accepted:
 * no `javascript:` or `data:` (script injection), no relative or scheme-relative forms, and
 * no credentials (`https://trusted.example@evil.example/` is a phishing classic).
 */
function isAcceptableAvatarUrl(value: string): boolean {
  if (URL_FORBIDDEN_CHARACTERS.test(value) || !/^https?:\/\//i.test(value)) return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'https:' || url.protocol === 'http:') &&
    url.hostname !== '' &&
    url.username === '' &&
    url.password === ''
  );
}

/** The canonical form of a BCP 47 tag (`en-us` → `en-US`), or undefined if it is not one. */
function canonicalLocale(value: string): string | undefined {
  try {
    return Intl.getCanonicalLocales(value)[0];
  } catch {
    return undefined;
  }
}

// Lower case → the name as ICU spells it, to accept `europe/paris` and store `Europe/Paris`.
const TIME_ZONES: ReadonlyMap<string, string> = new Map(
  Intl.supportedValuesOf('timeZone').map((zone) => [zone.toLowerCase(), zone]),
);

/**
 * The stored form of an IANA time zone, or undefined if it is not one. ICU lists one name per
 * zone, and its choice is CLDR's (`Asia/Calcutta`, not IANA's `Asia/Kolkata`), so a valid
 * alias it resolves (`UTC`, `Asia/Kolkata`, `US/Eastern`) is kept as the user wrote it — only
 * its case is fixed where ICU's answer is the same name. Bare offsets (`+01:00`), which newer
 * ICU versions accept, are not IANA zones and are refused.
 */
function canonicalTimeZone(value: string): string | undefined {
  const listed = TIME_ZONES.get(value.toLowerCase());
  if (listed) return listed;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en', { timeZone: value }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
  if (!TIME_ZONES.has(resolved.toLowerCase()) && resolved !== 'UTC') return undefined;
  return resolved.toLowerCase() === value.toLowerCase() ? resolved : value;
}

/** Checks what the schema cannot and brings values to their stored form; all errors at once. */
function toProfileChanges(input: ProfileUpdate): ProfileChanges {
  const changes: ProfileChanges = {};
  const errors: FieldError[] = [];
  if (input.full_name !== undefined) {
    changes.full_name = input.full_name === null ? null : input.full_name.trim() || null;
  }
  if (input.avatar_url !== undefined) {
    if (input.avatar_url === null || isAcceptableAvatarUrl(input.avatar_url))
      changes.avatar_url = input.avatar_url;
    else errors.push({ field: 'avatar_url', message: 'must be an absolute http or https URL' });
  }
  if (input.phone !== undefined) changes.phone = input.phone;
  if (input.locale !== undefined) {
    const locale = input.locale === null ? null : canonicalLocale(input.locale);
    if (locale === undefined)
      errors.push({ field: 'locale', message: 'must be a BCP 47 language tag such as en-US' });
    else changes.locale = locale;
  }
  if (input.timezone !== undefined) {
    const timezone = input.timezone === null ? null : canonicalTimeZone(input.timezone);
    if (timezone === undefined)
      errors.push({ field: 'timezone', message: 'must be an IANA time zone such as Europe/Paris' });
    else changes.timezone = timezone;
  }
  if (errors.length > 0)
    throw new AppError('validation_failed', 'The profile is not valid', errors);
  return changes;
}

export class ProfileService {
  constructor(private readonly deps: ProfileServiceDeps) {}

  async getProfile(userId: string): Promise<ProfileView> {
    const row = await repo.findProfileByUserId(this.deps.db, userId);
    return row ? toProfileView(row) : emptyProfile(userId);
  }

  /** Creates the empty profile of an account in the transaction that creates the account. */
  async createEmptyProfile(trx: Trx, userId: string, now: Date): Promise<void> {
    await repo.insertEmptyProfile(trx, userId, now);
  }

  /** Changes the given fields (null clears one); nothing changes unless every field is valid. */
  async updateProfile(userId: string, input: ProfileUpdate): Promise<ProfileView> {
    const changes = toProfileChanges(input);
    if (Object.keys(changes).length === 0) return this.getProfile(userId);
    const row = await repo.upsertProfile(this.deps.db, userId, changes, this.deps.clock.now());
    return toProfileView(row);
  }
}
