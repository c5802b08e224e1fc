import * as oauth from 'oauth4webapi';
import type { ManualClock } from '../src/lib/clock.js';
import type { RegisteredClient } from './oidc.js';

// The device's side of RFC 8628, played by oauth4webapi (another hand's client): discovery,
// the device authorization request, and polls of the token endpoint, each answer judged by it.

export type PollResult =
  | { kind: 'tokens'; tokens: oauth.TokenEndpointResponse; idClaims: oauth.IDToken | undefined }
  | { kind: 'error'; error: string; status: number };

export interface Device {
  as: oauth.AuthorizationServer;
  start(params: Record<string, string>): Promise<oauth.DeviceAuthorizationResponse>;
  /** The raw answer to a device authorization request that is expected to fail. */
  startRefused(params: Record<string, string>): Promise<{ status: number; error: string }>;
  poll(deviceCode: string): Promise<PollResult>;
}

const insecure = { [oauth.allowInsecureRequests]: true } as const;

/**
 * A device for this registered client against the issuer (client_secret_basic when it has a
 * secret, none otherwise). The app's ManualClock runs apart from the real one: oauth4webapi is
 * told the difference (its clockSkew) so that it judges the tokens' times by the app's clock.
 */
export async function deviceFor(
  issuer: string,
  registered: RegisteredClient,
  clock: ManualClock,
): Promise<Device> {
  const url = new URL(issuer);
  const as = await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, insecure));
  const auth = registered.client_secret
    ? oauth.ClientSecretBasic(registered.client_secret)
    : oauth.None();
  const client = (): oauth.Client => ({
    client_id: registered.client_id,
    [oauth.clockSkew]: Math.round((clock.now().getTime() - Date.now()) / 1000),
  });
  return {
    as,
    async start(params) {
      const response = await oauth.deviceAuthorizationRequest(as, client(), auth, params, insecure);
      return oauth.processDeviceAuthorizationResponse(as, client(), response);
    },
    async startRefused(params) {
      const response = await oauth.deviceAuthorizationRequest(as, client(), auth, params, insecure);
      try {
        await oauth.processDeviceAuthorizationResponse(as, client(), response);
      } catch (error) {
        if (error instanceof oauth.ResponseBodyError)
          return { status: error.status, error: error.error };
        // invalid_client after HTTP Basic comes with a Basic challenge (RFC 6749 §5.2).
        if (error instanceof oauth.WWWAuthenticateChallengeError) {
          const body = (await error.response.json()) as { error: string };
          return { status: error.status, error: body.error };
        }
        throw error;
      }
      throw new Error('the device authorization request was not refused');
    },
    async poll(deviceCode) {
      const response = await oauth.deviceCodeGrantRequest(as, client(), auth, deviceCode, insecure);
      try {
        const tokens = await oauth.processDeviceCodeResponse(as, client(), response);
        return { kind: 'tokens', tokens, idClaims: oauth.getValidatedIdTokenClaims(tokens) };
      } catch (error) {
        if (error instanceof oauth.ResponseBodyError)
          return { kind: 'error', error: error.error, status: error.status };
        throw error;
      }
    },
  };
}
