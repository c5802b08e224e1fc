import { randomInt } from 'node:crypto';

// RFC 8628 §6.1: the code a person reads off a device and types into a browser. Consonants
// only (no vowels, so no words; no lookalikes: no 0/O, 1/I/L confusion since only letters are
// used and A E I O U Y are left out): 20^8 ≈ 2.6·10^10 codes, against at most a handful of
// guesses per address (the /device page's failure limit) within the code's ten minutes.

export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const LENGTH = 8;

/** A new code as it is shown: `XXXX-XXXX`. */
export function generateUserCode(): string {
  let code = '';
  for (let i = 0; i < LENGTH; i += 1)
    code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return formatUserCode(code);
}

/** `BCDFGHJK` → `BCDF-GHJK`. */
export function formatUserCode(normalized: string): string {
  return `${normalized.slice(0, 4)}-${normalized.slice(4)}`;
}

/**
 * What a person typed, as the code is stored (upper case, no dashes or spaces), or undefined
 * when it cannot be a code at all (wrong length, a letter not in the alphabet).
 */
export function normalizeUserCode(typed: string): string | undefined {
  if (typed.length > 64) return undefined;
  const code = typed.replace(/[\s-]/g, '').toUpperCase();
  if (code.length !== LENGTH) return undefined;
  for (const char of code) if (!USER_CODE_ALPHABET.includes(char)) return undefined;
  return code;
}
