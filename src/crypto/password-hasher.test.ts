import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import { describe, expect, it } from 'vitest';
import { createPasswordHasher, isSupportedPasswordHash } from './password-hasher.js';

const hasher = await createPasswordHasher({ memoryKib: 1024, iterations: 1, parallelism: 1 });

describe('isSupportedPasswordHash (imported hashes)', () => {
  it('accepts whole bcrypt and argon2 PHC hashes', async () => {
    expect(isSupportedPasswordHash(await bcrypt.hash('pw', 4))).toBe(true);
    expect(isSupportedPasswordHash((await bcrypt.hash('pw', 4)).replace('$2b$', '$2y$'))).toBe(
      true,
    );
    for (const type of [argon2.argon2id, argon2.argon2i, argon2.argon2d] as const)
      expect(isSupportedPasswordHash(await argon2.hash('pw', { type, memoryCost: 1024 }))).toBe(
        true,
      );
    expect(isSupportedPasswordHash(await hasher.hash('pw'))).toBe(true);
  });

  it('refuses truncated, foreign or empty hashes', async () => {
    const bcryptHash = await bcrypt.hash('pw', 4);
    for (const hash of [
      '',
      'plaintext',
      bcryptHash.slice(0, -1),
      '$2x$10$' + 'a'.repeat(53),
      '$argon2id$v=19$m=1024,t=1,p=1$onlysalt',
      '$pbkdf2-sha256$29000$abc$def',
      '$1$md5$hash',
    ])
      expect(isSupportedPasswordHash(hash), hash).toBe(false);
  });
});

describe('the hasher', () => {
  it('verifies a bcrypt hash from an older service and asks for a re-hash', async () => {
    const check = await hasher.verify(await bcrypt.hash('old-password', 4), 'old-password');
    expect(check).toEqual({ ok: true, needsRehash: true });
    expect((await hasher.verify(await hasher.hash('new'), 'new')).needsRehash).toBe(false);
  });

  it('runs no more hashes and verifications at once than its concurrency, and all of them', async () => {
    const params = { memoryKib: 1024, iterations: 1, parallelism: 1 };
    const limited = await createPasswordHasher(params, { concurrency: 2 });
    const spans: { start: number; end: number }[] = [];
    limited.onTiming = (_operation, ms) => {
      const end = performance.now();
      spans.push({ start: end - ms, end });
    };
    const hash = await limited.hash('queued-password');
    spans.length = 0;
    const checks = await Promise.all([
      ...Array.from({ length: 5 }, () => limited.verify(hash, 'queued-password')),
      limited.verifyDummy('queued-password').then(() => ({ ok: false, needsRehash: false })),
      limited.hash('another-password').then(() => ({ ok: true, needsRehash: false })),
    ]);
    expect(checks.filter((check) => check.ok)).toHaveLength(6);
    expect(spans).toHaveLength(7);
    // At any span's start, at most one other span is under way.
    for (const span of spans) {
      const overlapping = spans.filter(
        (other) => other !== span && other.start < span.start && other.end > span.start,
      );
      expect(overlapping.length).toBeLessThanOrEqual(1);
    }
  });
});
