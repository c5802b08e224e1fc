/** E-mail addresses are stored and compared in one canonical form: trimmed, lower case. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
