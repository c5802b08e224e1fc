/**
 * Revoked session ids, each remembered while a token of that session may still be unexpired:
 * from its revocation for the longest token lifetime seen (at least the minimum given).
 * Bounded: past `maxEntries` the oldest revocation is forgotten first.
 */
export class RevokedSessions {
  // Insertion order is (nearly) revocation order: the feed lists them oldest first.
  readonly #revokedAt = new Map<string, number>();
  #longestLifetimeMs: number;

  constructor(private readonly options: { minRetentionSeconds: number; maxEntries: number }) {
    this.#longestLifetimeMs = options.minRetentionSeconds * 1000;
  }

  add(sessionId: string, revokedAtMs: number): void {
    this.#revokedAt.set(sessionId, Number.isFinite(revokedAtMs) ? revokedAtMs : Date.now());
    this.#prune();
  }

  has(sessionId: string): boolean {
    this.#prune();
    return this.#revokedAt.has(sessionId);
  }

  sawLifetime(seconds: number): void {
    if (seconds * 1000 > this.#longestLifetimeMs) this.#longestLifetimeMs = seconds * 1000;
  }

  get size(): number {
    return this.#revokedAt.size;
  }

  #prune(): void {
    const forgetBefore = Date.now() - this.#longestLifetimeMs;
    for (const [sessionId, revokedAt] of this.#revokedAt) {
      const tooMany = this.#revokedAt.size > this.options.maxEntries;
      if (!tooMany && revokedAt >= forgetBefore) break;
      this.#revokedAt.delete(sessionId);
    }
  }
}
