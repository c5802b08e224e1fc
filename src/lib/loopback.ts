// Loopback hosts may use plain http (RFC 8252 §7.3): the traffic never leaves the machine.
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether a URL's hostname (as `URL.hostname` writes it) names this machine's loopback. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname);
}
