/**
 * Which IP addresses an outbound fetch may reach. A URL someone else chose (a client's metadata
 * document, a webhook) must not become a way to reach this machine, the private network it
 * sits in or a cloud metadata service (169.254.169.254): server-side request forgery.
 */
import { BlockList, isIP } from 'node:net';

// Everything that is not plainly a public unicast address (IANA's special-purpose registries,
// RFC 6890 and its updates), rather than only the famous private ranges: documentation and
// benchmark ranges are refused too, since no legitimate document is served from them.
const IPV4_BLOCKED: readonly [string, number][] = [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 itself reaches this machine on Linux
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // carrier-grade NAT (RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, including cloud metadata services
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
];

const IPV6_BLOCKED: readonly [string, number][] = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated): an IPv4 address in disguise
  ['64:ff9b::', 96], // NAT64: a gateway would carry it to any IPv4 address, private ones too
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments, Teredo among them
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: an IPv4 address in disguise
  ['3fff::', 20], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

const blocked = new BlockList();
for (const [network, prefix] of IPV4_BLOCKED) blocked.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of IPV6_BLOCKED) blocked.addSubnet(network, prefix, 'ipv6');

/**
 * Whether an address (IPv4 or IPv6, as text) is a public unicast address an outbound fetch may
 * reach. An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the IPv4 address it
 * carries (BlockList matches IPv4 rules against it). Anything that is not an address is not
 * public.
 */
export function isPublicAddress(address: string): boolean {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  // A zone index (fe80::1%eth0) names an interface of this machine.
  if (bare.includes('%')) return false;
  const family = isIP(bare);
  if (family === 4) return !blocked.check(bare, 'ipv4');
  if (family === 6) return !blocked.check(bare, 'ipv6');
  return false;
}
