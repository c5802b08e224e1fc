/** Where a request comes from, as sessions and the audit trail record it. */
export interface ClientContext {
  /** The client's address; behind proxies only as far as TRUST_PROXY allows. */
  ip: string | null;
  userAgent: string | null;
}
