/** E-mail addresses are stored and compared in one canonical form: trimmed, lower case. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

// Deliberately loose (RFC 5321 is not a regex); ownership is proven by the verification e-mail.
// Every quantifier is followed by a character it cannot match (labels exclude the dot), so
// matching is linear: the earlier `[^\s@]+\.[^\s@]+` backtracked quadratically, and Ajv
// (allErrors) runs the pattern even on a string already over maxLength — seconds of CPU
// for one 64 KiB request. The sign-up schema and the user import share it.
export const EMAIL_PATTERN = '^\\s*[^\\s@]+@[^\\s@.]+(?:\\.[^\\s@.]+)+\\s*$';
