import { challenge } from './challenge.js';
import { VerifyError } from './errors.js';
import {
  type ProtectedResourceMetadata,
  protectedResourceMetadata,
  resourceMetadataPaths,
  resourceMetadataUrl,
} from './resource-metadata.js';
import type { VerifiedToken } from './token.js';
import type { Verifier } from './verifier.js';

/** What every middleware of the kit takes. */
export interface GuardOptions {
  verifier: Verifier;
  /** This resource's identifier (RFC 9728 `resource`); defaults to the verifier's audience. */
  resource?: string;
  /** Scopes every request through this middleware needs, beyond the verifier's own. */
  scopes?: readonly string[];
  /** Listed as `scopes_supported` in the metadata. */
  scopesSupported?: readonly string[];
  resourceName?: string;
  resourceDocumentation?: string;
  /** Serve the metadata at its well-known paths (default true). */
  serveMetadata?: boolean;
}

/** An answer the middleware sends itself: a refusal, or the metadata document. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export type Judgement = { ok: true; token: VerifiedToken } | { ok: false; answer: Answer };

/** The framework-free core the three middlewares share. */
export interface Guard {
  readonly metadataPaths: readonly string[];
  readonly metadata: ProtectedResourceMetadata;
  /** The metadata answer for a GET of one of its paths (query ignored); else undefined. */
  metadataAnswer(method: string | undefined, url: string | undefined): Answer | undefined;
  /** Verifies the `Authorization` header; a refusal carries its status, challenge and body. */
  judge(authorization: string | undefined, scopes?: readonly string[]): Promise<Judgement>;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The token of an `Authorization: Bearer …` header (RFC 6750 §2.1), or undefined. */
export function bearerTokenOf(authorization: string | undefined): string | undefined {
  return authorization ? BEARER.exec(authorization)?.[1] : undefined;
}

export function createGuard(options: GuardOptions): Guard {
  const resource = options.resource ?? options.verifier.audience;
  const metadata = protectedResourceMetadata({
    resource,
    authorizationServers: [options.verifier.issuer],
    ...(options.scopesSupported ? { scopesSupported: options.scopesSupported } : {}),
    ...(options.resourceName ? { resourceName: options.resourceName } : {}),
    ...(options.resourceDocumentation
      ? { resourceDocumentation: options.resourceDocumentation }
      : {}),
  });
  const metadataPaths = options.serveMetadata === false ? [] : resourceMetadataPaths(resource);
  const resourceMetadata = resourceMetadataUrl(resource);

  const refusal = (error: VerifyError, scopes: readonly string[]): Answer => ({
    status: error.status,
    headers: {
      'www-authenticate': challenge(error, {
        resourceMetadataUrl: resourceMetadata,
        scope: scopes,
      }),
      'cache-control': 'no-store',
    },
    body: { error: error.code, error_description: error.message },
  });

  return {
    metadataPaths,
    metadata,
    metadataAnswer(method, url) {
      if (method !== 'GET' && method !== 'HEAD') return undefined;
      const path = (url ?? '').split('?')[0] ?? '';
      if (!metadataPaths.includes(path.replace(/\/+$/, '') || '/')) return undefined;
      return {
        status: 200,
        headers: { 'content-type': 'application/json', 'cache-control': 'max-age=3600' },
        body: metadata,
      };
    },
    async judge(authorization, scopes = []) {
      const required = [...options.verifier.requiredScopes, ...(options.scopes ?? []), ...scopes];
      const raw = bearerTokenOf(authorization);
      if (!raw) {
        const missing = new VerifyError('invalid_token', 'A bearer token is required', [], true);
        return { ok: false, answer: refusal(missing, required) };
      }
      try {
        const token = await options.verifier.verify(raw, {
          scopes: [...(options.scopes ?? []), ...scopes],
        });
        return { ok: true, token };
      } catch (error) {
        if (error instanceof VerifyError) return { ok: false, answer: refusal(error, required) };
        // The issuer or its keys could not be reached: refused, never let through.
        return {
          ok: false,
          answer: {
            status: 503,
            headers: { 'retry-after': '5', 'cache-control': 'no-store' },
            body: {
              error: 'temporarily_unavailable',
              error_description: 'The token cannot be checked right now',
            },
          },
        };
      }
    },
  };
}
