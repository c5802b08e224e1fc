import { readFileSync } from 'node:fs';
import type { FieldError } from '../errors.js';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

export interface PasswordPolicyOptions {
  /** Adds the upper/lower/digit/symbol rule (off by default, as NIST SP 800-63B advises). */
  requireClasses: boolean;
}

let commonPasswords: ReadonlySet<string> | undefined;

/** The 10,000 most common passwords of 8+ characters, lower-cased, loaded once. */
function loadCommonPasswords(): ReadonlySet<string> {
  if (!commonPasswords) {
    // Same relative path from src/crypto (tests) and dist/crypto (the built service).
    const file = new URL('../../assets/common-passwords.txt', import.meta.url);
    commonPasswords = new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean));
  }
  return commonPasswords;
}

const CLASS_RULES: ReadonlyArray<{ test: RegExp; message: string }> = [
  { test: /\p{Lu}/u, message: 'must contain an upper-case letter' },
  { test: /\p{Ll}/u, message: 'must contain a lower-case letter' },
  { test: /\p{Nd}/u, message: 'must contain a digit' },
  { test: /[^\p{L}\p{Nd}]/u, message: 'must contain a symbol' },
];

/**
 * Checks a new password against the policy (NIST SP 800-63B: length, a list of
 * common passwords, nothing derived from the account) and says every reason it fails.
 */
export function checkPasswordPolicy(
  password: string,
  email: string,
  options: PasswordPolicyOptions,
): FieldError[] {
  const errors: FieldError[] = [];
  const fail = (message: string) => errors.push({ field: 'password', message });
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) fail(`must be at least ${PASSWORD_MIN_LENGTH} characters`);
  if (length > PASSWORD_MAX_LENGTH) fail(`must be at most ${PASSWORD_MAX_LENGTH} characters`);

  const lowered = password.toLowerCase();
  if (loadCommonPasswords().has(lowered)) fail('is too common');

  const address = email.trim().toLowerCase();
  const localPart = address.split('@')[0] ?? '';
  if (
    address &&
    (lowered.includes(address) || (localPart.length >= 4 && lowered.includes(localPart)))
  ) {
    fail('must not contain the e-mail address');
  }

  if (options.requireClasses) {
    for (const rule of CLASS_RULES) if (!rule.test.test(password)) fail(rule.message);
  }
  return errors;
}
