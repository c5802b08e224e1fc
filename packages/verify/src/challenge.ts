import type { VerifyError } from './errors.js';

export interface ChallengeOptions {
  /** Where this resource's RFC 9728 metadata is served (see `resourceMetadataUrl`). */
  resourceMetadataUrl: string;
  /** The scopes the request needs; for 403 every one of them, not only the missing ones. */
  scope?: readonly string[] | string;
}

/** A quoted-string of RFC 9110 §5.6.4: `"` and `\` escaped. */
function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, (character) => `\\${character}`)}"`;
}

/**
 * The `WWW-Authenticate` value for a refused request (RFC 6750 §3, RFC 9728 §5.1):
 * 401 → `Bearer resource_metadata="…", scope="…"` (with `error="invalid_token"` when a token
 * was sent), 403 → `Bearer error="insufficient_scope", scope="…", resource_metadata="…"`.
 * An MCP client reads `resource_metadata` to find the authorization server, and `scope` to
 * know what to ask for.
 */
export function challenge(error: VerifyError, options: ChallengeOptions): string {
  const scope = typeof options.scope === 'string' ? options.scope : options.scope?.join(' ');
  const scopes = scope || error.requiredScopes.join(' ');
  const metadata = `resource_metadata=${quoted(options.resourceMetadataUrl)}`;
  const scopePart = scopes ? `scope=${quoted(scopes)}` : undefined;
  if (error.code === 'insufficient_scope')
    return `Bearer ${['error="insufficient_scope"', scopePart, metadata].filter(Boolean).join(', ')}`;
  const parts = [metadata, scopePart];
  if (!error.missing) parts.push('error="invalid_token"');
  return `Bearer ${parts.filter(Boolean).join(', ')}`;
}
