import type { IdTokens } from '../../crypto/id-tokens.js';
import { AppError } from '../../errors.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import type { ClientLookup } from './oidc.ports.js';
import type { OAuthClient } from './oidc.types.js';

export interface EndSessionServiceDeps {
  clients: ClientLookup;
  idTokens: Pick<IdTokens, 'readHint'>;
  sessions: Pick<SessionsService, 'findBrowserSession'>;
}

/** An RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0 §2). */
export interface EndSessionRequest {
  idTokenHint?: string | undefined;
  clientId?: string | undefined;
  postLogoutRedirectUri?: string | undefined;
  state?: string | undefined;
}

/** What to do: sign out now, or ask the person first; then where to send the browser. */
export interface EndSessionPlan {
  /** The app that asked, when it could be told (by client_id or the hint's audience). */
  client: OAuthClient | undefined;
  /** The registered post-logout URI with `state`, or undefined: our own "signed out" page. */
  redirectTo: string | undefined;
  /**
   * Sign out without asking: the app proved with an ID token of ours that it speaks for the
   * person signed in here (or nobody is signed in). Otherwise a page asks, so that a link on
   * any site cannot sign a person out behind their back.
   */
  confirmed: boolean;
}

const invalid = (detail: string) => new AppError('validation_failed', detail);

/**
 * Checks a logout request before anything happens. A bad hint, an unknown client, or a
 * post-logout URI that client did not register is refused with an error page: the browser is
 * never sent to an address an app did not register (an open redirect otherwise).
 */
export class EndSessionService {
  constructor(private readonly deps: EndSessionServiceDeps) {}

  async plan(request: EndSessionRequest, cookie: string | undefined): Promise<EndSessionPlan> {
    const hint = request.idTokenHint
      ? await this.deps.idTokens.readHint(request.idTokenHint)
      : undefined;
    if (request.idTokenHint && !hint)
      throw invalid('The id_token_hint is not an ID token of ours.');
    if (request.clientId && hint && !hint.aud.includes(request.clientId))
      throw invalid('The id_token_hint was issued to another client.');
    const clientId = request.clientId ?? hint?.aud[0];
    const client = clientId ? await this.deps.clients.findClient(clientId) : undefined;
    if (clientId && !client) throw invalid('The client is not known.');
    let redirectTo: string | undefined;
    if (request.postLogoutRedirectUri !== undefined) {
      if (!client || !client.post_logout_redirect_uris.includes(request.postLogoutRedirectUri))
        throw invalid('The post_logout_redirect_uri is not registered for this client.');
      const url = new URL(request.postLogoutRedirectUri);
      if (request.state !== undefined) url.searchParams.set('state', request.state);
      redirectTo = url.href;
    }
    const session = await this.deps.sessions.findBrowserSession(cookie);
    const confirmed = hint !== undefined && (!session || session.userId === hint.sub);
    return { client, redirectTo, confirmed };
  }
}
