// Where /login may send the person once signed in, besides an authorization request: a page
// of ours that asked them to sign in first. Only /device (with the code it was opened with)
// and /account/passkeys are such pages; anything else — another origin above all — is
// ignored, so /login is no open redirector.

export const DEVICE_PAGE = '/device';
export const PASSKEYS_PAGE = '/account/passkeys';

/** `/device`, or `/device?user_code=…` carrying what the person opened or typed. */
export function deviceReturnPath(userCode: string | undefined): string {
  return userCode ? `${DEVICE_PAGE}?user_code=${encodeURIComponent(userCode)}` : DEVICE_PAGE;
}

/** The page to go on to, rebuilt from what was sent, or undefined when it is not one of ours. */
export function safeReturnPath(value: string | undefined): string | undefined {
  if (value === undefined || !value.startsWith('/') || value.length > 256) return undefined;
  const base = 'http://return.invalid';
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    return undefined;
  }
  if (url.origin !== base) return undefined;
  if (url.pathname === PASSKEYS_PAGE) return url.search === '' ? PASSKEYS_PAGE : undefined;
  if (url.pathname !== DEVICE_PAGE) return undefined;
  const keys = [...url.searchParams.keys()];
  if (keys.some((key) => key !== 'user_code') || keys.length > 1) return undefined;
  const userCode = url.searchParams.get('user_code') ?? undefined;
  if (userCode !== undefined && userCode.length > 64) return undefined;
  return deviceReturnPath(userCode);
}
