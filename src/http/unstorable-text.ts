// Text PostgreSQL cannot store as it was sent: NUL, which it refuses outright (error 22021,
// "invalid byte sequence": a 500 once it reaches any query, even a lookup), and a lone UTF-16
// surrogate, which has no UTF-8 form, so the driver would silently store U+FFFD instead of
// what the client sent. No legitimate client sends either.
const UNSTORABLE_CHARACTER = /[\p{Cs}\0]/u;

/** Whether any string in `value` (an object's keys included, at any depth) is unstorable. */
export function containsUnstorableText(value: unknown): boolean {
  // An explicit stack, not recursion: a deeply nested body must not overflow the call stack.
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') {
      if (UNSTORABLE_CHARACTER.test(item)) return true;
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        if (UNSTORABLE_CHARACTER.test(key)) return true;
        pending.push(child);
      }
    }
  }
  return false;
}

/**
 * Whether a form-encoded body holds unstorable text once decoded: `%00` is a NUL only after
 * percent-decoding, which the token endpoint leaves to its handler (it needs the raw text to
 * see a repeated parameter), so the parameters are decoded here the same way to check them.
 */
export function formContainsUnstorableText(form: string): boolean {
  for (const [key, value] of new URLSearchParams(form)) {
    if (UNSTORABLE_CHARACTER.test(key) || UNSTORABLE_CHARACTER.test(value)) return true;
  }
  return false;
}

export const UNSTORABLE_TEXT_DETAIL = 'contains a NUL character or an unpaired UTF-16 surrogate';
