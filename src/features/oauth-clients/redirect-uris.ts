/**
 * The rules a registered redirect URI (or post-logout redirect URI) must meet. The authorize
 * endpoint compares the request's URI with these strings exactly, so what is registered is
 * the whole of the client's reach: each rule closes a way codes could leak.
 */
import { isLoopbackHost } from '../../lib/loopback.js';

/** Why the URI may not be registered, or undefined when it may. */
export function redirectUriProblem(uri: string): string | undefined {
  // A wildcard would make the exact match a pattern match: an attacker's path or subdomain
  // would qualify (the classic open-redirector leak of codes).
  if (uri.includes('*')) return 'must not contain a wildcard';
  // RFC 6749 §3.1.2: the endpoint URI must not include a fragment (the code is appended as a
  // query; a fragment would carry it into the page's script).
  if (uri.includes('#')) return 'must not contain a fragment';
  // URL parsers forgive `https:\\host`, `https:///host` and stray spaces, and browsers follow
  // what they forgive: only a URI written as it will be read may be registered.
  if (/[\\\s]/.test(uri)) return 'must not contain a backslash or white space';
  if (/^https?:/i.test(uri) && !/^https?:\/\/[^/]/i.test(uri)) return 'must be scheme://host/...';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an absolute URI';
  }
  // Credentials in the URI would be replayed to the client with every code.
  if (url.username !== '' || url.password !== '') return 'must not contain credentials';
  const scheme = url.protocol.slice(0, -1);
  if (scheme === 'https') return url.hostname === '' ? 'must name a host' : undefined;
  if (scheme === 'http')
    return isLoopbackHost(url.hostname)
      ? undefined
      : 'must use https (plain http only for localhost, 127.0.0.1 or [::1])';
  // A native app's private-use scheme is a reversed domain name it controls (RFC 8252 §7.1),
  // so it contains a dot; that also rules out javascript:, data:, file: and the like.
  if (scheme.includes('.')) return undefined;
  return 'must use https, a loopback http address, or a private-use scheme like com.example.app:/cb';
}
