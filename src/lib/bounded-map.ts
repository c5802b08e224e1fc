/**
 * Sets `key` as the newest entry of an insertion-ordered map that holds at most `max`,
 * dropping the oldest to make room: the in-process caches' way of keeping memory flat.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) {
    // Maps iterate in insertion order: the first key is the oldest.
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  map.set(key, value);
}
