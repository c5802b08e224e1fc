/** The parts of the issuer's metadata (OpenID Connect Discovery / RFC 8414) the kit uses. */
export interface IssuerMetadata {
  issuer: string;
  jwks_uri: string;
  token_endpoint?: string;
  id_token_signing_alg_values_supported?: string[];
  [name: string]: unknown;
}

export type Fetch = typeof fetch;

const DISCOVERY_TIMEOUT_MS = 5_000;

/** `https://id.example.com/` and `https://id.example.com` name one issuer. */
export function trimIssuer(issuer: string): string {
  return issuer.replace(/\/+$/, '');
}

/**
 * Reads `${issuer}/.well-known/openid-configuration` once and keeps it; a failed read is not
 * kept, so the next call tries again. The document must name the same issuer (as OIDC
 * Discovery §4.3 and RFC 8414 §3.3 require): otherwise another server could hand out keys.
 */
export function issuerMetadataLoader(
  issuer: string,
  fetcher: Fetch,
): () => Promise<IssuerMetadata> {
  let pending: Promise<IssuerMetadata> | undefined;
  const load = async (): Promise<IssuerMetadata> => {
    const url = `${trimIssuer(issuer)}/.well-known/openid-configuration`;
    const response = await fetcher(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`Issuer discovery: ${url} answered ${response.status}`);
    const document = (await response.json()) as Partial<IssuerMetadata> | null;
    if (!document || typeof document.jwks_uri !== 'string')
      throw new Error(`Issuer discovery: ${url} names no jwks_uri`);
    if (document.issuer !== issuer && document.issuer !== trimIssuer(issuer))
      throw new Error(`Issuer discovery: ${url} names the issuer ${String(document.issuer)}`);
    return document as IssuerMetadata;
  };
  return () => {
    pending ??= load().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
