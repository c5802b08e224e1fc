import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

function keyFrom(token: string): Buffer {
  // The token has 256 bits of entropy, so a plain hash is a sound key; the label keeps
  // this key apart from the token's lookup hash (a bare SHA-256 of the same token).
  return createHash('sha256').update('hyperion-auth:seal:').update(token).digest();
}

/**
 * Encrypts `value` (AES-256-GCM) under a key derived from an opaque token that is never
 * stored: only whoever presents that token again can open it. Used to hand a refresh
 * retry the same child pair without keeping the child in clear.
 */
export function sealWithToken(token: string, value: unknown): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyFrom(token), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** Opens what sealWithToken sealed; undefined if the token or the data does not match. */
export function openWithToken<T>(token: string, sealed: string): T | undefined {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const iv = raw.subarray(0, IV_BYTES);
    const tag = raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', keyFrom(token), iv);
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([
      decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]);
    return JSON.parse(plain.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}
