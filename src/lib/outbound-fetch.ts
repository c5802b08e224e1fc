/**
 * The one way to fetch a URL someone else chose (a client's metadata document; webhooks next):
 * guarded against server-side request forgery and against answers meant to exhaust us.
 *
 * - Only the schemes the caller allows (https by default).
 * - Every address the host name resolves to is checked (outbound-address.ts) inside the
 *   connection's own DNS lookup, and the connection goes to the addresses checked: nothing
 *   resolves the name a second time, so a name that answers a public address to the check and
 *   a private one to the connection (DNS rebinding) gains nothing. An address literal in the
 *   URL is checked before connecting (Node does not look literals up). One private address
 *   among the answers refuses the whole name.
 * - Redirects are never followed: a 3xx is a failure. The metadata-document draft allows only
 *   a 200, a webhook has no reason to redirect, and a followed redirect is a second fetch of
 *   an address nobody checked beforehand; refusing is simpler to get right than re-checking.
 * - One deadline for the whole exchange (connect, headers, body), and a body cap counted as
 *   the body streams in (a Content-Length over the cap is refused before reading).
 * - A fresh connection per fetch (no agent pooling), so each goes through the guarded lookup.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import * as http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import * as https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isPublicAddress } from './outbound-address.js';

export type OutboundFailure =
  | 'invalid_url'
  | 'scheme'
  | 'private_address'
  | 'dns'
  | 'network'
  | 'timeout'
  | 'redirect'
  | 'too_large'
  | 'content_type';

/** A fetch that did not produce an answer worth reading; `reason` says which rule it broke. */
export class OutboundFetchError extends Error {
  constructor(
    readonly reason: OutboundFailure,
    message: string,
  ) {
    super(message);
    this.name = 'OutboundFetchError';
  }
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface OutboundRequest {
  /** Allowed URL schemes; https only unless a caller says otherwise. */
  schemes?: readonly ('https:' | 'http:')[];
  /** The largest body read, in bytes. */
  maxBytes: number;
  /** The deadline for the whole exchange, in milliseconds. */
  timeoutMs: number;
  accept?: string;
  /** Media types (without parameters) a 2xx answer must have; any when absent. */
  contentTypes?: readonly string[];
}

export interface OutboundFetcher {
  get(url: string, request: OutboundRequest): Promise<OutboundResponse>;
}

export interface OutboundFetcherOptions {
  /** OUTBOUND_ALLOW_PRIVATE: reach private, loopback and link-local addresses (tests only). */
  allowPrivate: boolean;
  /**
   * Trust anchors (PEM) used instead of the system's. For tests, which serve https with a
   * certificate made on the spot; handed in through the composition root, never read from the
   * environment, so no setting can weaken a real deployment's certificate checks.
   */
  ca?: string | undefined;
}

const USER_AGENT = 'hyperion-auth (outbound fetch)';

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * Resolves like dns.lookup, then refuses the name unless every address is allowed; the socket
 * connects to the addresses returned here and no others.
 */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (error, found) => {
      if (error) return callback(error, '', 4);
      const addresses = found as LookupAddress[];
      const refused = addresses.find((entry) => !isPublicAddress(entry.address));
      if (addresses.length === 0 || (refused && !allowPrivate)) {
        const reason = refused
          ? new OutboundFetchError(
              'private_address',
              `${hostname} resolves to ${refused.address}, which is not a public address`,
            )
          : new OutboundFetchError('dns', `${hostname} has no address`);
        return callback(reason as unknown as NodeJS.ErrnoException, '', 4);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  };
}

export function createOutboundFetcher(options: OutboundFetcherOptions): OutboundFetcher {
  const lookup = guardedLookup(options.allowPrivate);
  return {
    get(target, request) {
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        return Promise.reject(new OutboundFetchError('invalid_url', 'not an absolute URL'));
      }
      const schemes = request.schemes ?? ['https:'];
      if (!(schemes as readonly string[]).includes(url.protocol))
        return Promise.reject(
          new OutboundFetchError('scheme', `${url.protocol.slice(0, -1)} URLs are not fetched`),
        );
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) !== 0 && !options.allowPrivate && !isPublicAddress(host))
        return Promise.reject(
          new OutboundFetchError('private_address', `${host} is not a public address`),
        );
      return fetchOnce(url, request, lookup, options.ca);
    },
  };
}

function fetchOnce(
  url: URL,
  request: OutboundRequest,
  lookup: LookupFunction,
  ca: string | undefined,
): Promise<OutboundResponse> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: OutboundFetchError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outgoing.destroy();
      reject(error);
    };
    const transport = url.protocol === 'https:' ? https : http;
    let outgoing: http.ClientRequest;
    try {
      outgoing = transport.request(url, {
        method: 'GET',
        headers: { accept: request.accept ?? '*/*', 'user-agent': USER_AGENT },
        lookup,
        agent: false,
        ...(ca !== undefined && url.protocol === 'https:' ? { ca } : {}),
      });
    } catch (error) {
      // A URL the http module will not send (say, a host it cannot encode).
      const detail = error instanceof Error ? error.message : String(error);
      return reject(new OutboundFetchError('invalid_url', `cannot be requested (${detail})`));
    }
    const timer = setTimeout(
      () =>
        fail(new OutboundFetchError('timeout', `no complete answer in ${request.timeoutMs} ms`)),
      request.timeoutMs,
    );
    outgoing.on('error', (error) => {
      fail(
        error instanceof OutboundFetchError
          ? error
          : new OutboundFetchError('network', `could not be fetched (${error.message})`),
      );
    });
    outgoing.on('response', (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400)
        return fail(
          new OutboundFetchError('redirect', `answered ${status}; redirects are not followed`),
        );
      const type = mediaType(response.headers['content-type']);
      if (
        status >= 200 &&
        status < 300 &&
        request.contentTypes !== undefined &&
        !request.contentTypes.includes(type)
      )
        return fail(
          new OutboundFetchError(
            'content_type',
            `answered with content type "${type}", not ${request.contentTypes.join(' or ')}`,
          ),
        );
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > request.maxBytes)
        return fail(tooLarge(request.maxBytes));
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > request.maxBytes) return fail(tooLarge(request.maxBytes));
        chunks.push(chunk);
      });
      response.on('error', (error) =>
        fail(new OutboundFetchError('network', `answer cut short (${error.message})`)),
      );
      response.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status, headers: response.headers, body: Buffer.concat(chunks) });
      });
    });
    outgoing.end();
  });
}

function tooLarge(maxBytes: number): OutboundFetchError {
  return new OutboundFetchError('too_large', `answer larger than ${maxBytes} bytes`);
}
