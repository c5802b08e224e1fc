/** The RFC 9728 document a protected resource serves so clients find who issues its tokens. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported: string[];
  resource_name?: string;
  resource_documentation?: string;
}

export interface ProtectedResourceMetadataOptions {
  /** This resource's identifier: the absolute URL tokens for it carry as `aud`. */
  resource: string;
  /** The issuers whose tokens it accepts (Hyperion's `PUBLIC_URL`). */
  authorizationServers: readonly string[];
  scopesSupported?: readonly string[];
  resourceName?: string;
  resourceDocumentation?: string;
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

export function protectedResourceMetadata(
  options: ProtectedResourceMetadataOptions,
): ProtectedResourceMetadata {
  return {
    resource: options.resource,
    authorization_servers: [...options.authorizationServers],
    ...(options.scopesSupported ? { scopes_supported: [...options.scopesSupported] } : {}),
    // Only the Authorization header: a token in a query string ends up in logs.
    bearer_methods_supported: ['header'],
    ...(options.resourceName ? { resource_name: options.resourceName } : {}),
    ...(options.resourceDocumentation
      ? { resource_documentation: options.resourceDocumentation }
      : {}),
  };
}

/** The resource's path without a trailing slash ('' for the origin itself). */
function resourcePath(resource: string): string {
  return new URL(resource).pathname.replace(/\/+$/, '');
}

/**
 * Where the metadata lives (RFC 9728 §3.1): the well-known segment inserted between the host
 * and the resource's path, e.g. `https://api.example.com/mcp` →
 * `https://api.example.com/.well-known/oauth-protected-resource/mcp`. The URL a 401's
 * `resource_metadata` names.
 */
export function resourceMetadataUrl(resource: string): string {
  return `${new URL(resource).origin}${WELL_KNOWN}${resourcePath(resource)}`;
}

/**
 * The paths a server answers the metadata at: the path-inserted form, the bare well-known path
 * that some clients try first, and the form appended to the resource's path (what a challenge
 * built by appending — Hyperion's forward auth before RFC 9728's insertion — names).
 */
export function resourceMetadataPaths(resource: string): string[] {
  const path = resourcePath(resource);
  return path ? [`${WELL_KNOWN}${path}`, WELL_KNOWN, `${path}${WELL_KNOWN}`] : [WELL_KNOWN];
}
