import { describe, expect, it } from 'vitest';
import { setBounded } from './bounded-map.js';

describe('setBounded', () => {
  it('keeps at most `max` entries, dropping the oldest', () => {
    const map = new Map<string, number>();
    for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) setBounded(map, key, i, 3);
    expect([...map.keys()]).toEqual(['b', 'c', 'd']);
  });

  it('makes a key set again the newest, without dropping another', () => {
    const map = new Map([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    setBounded(map, 'a', 10, 3);
    expect([...map.entries()]).toEqual([
      ['b', 2],
      ['c', 3],
      ['a', 10],
    ]);
    setBounded(map, 'd', 4, 3);
    expect([...map.keys()]).toEqual(['c', 'a', 'd']);
  });
});
