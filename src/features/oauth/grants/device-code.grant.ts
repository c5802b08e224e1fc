import { Type } from 'typebox';
import { DeviceFlowError } from '../../oidc/device.service.js';
import { DEVICE_CODE_GRANT_TYPE } from '../../oidc/oidc.types.js';
import { authenticateClient } from '../client-auth.js';
import { OAuthError } from '../oauth.errors.js';
import { requiredParam } from '../token-params.js';
import { clientGrantResponse } from './client-grant-response.js';
import { defineGrant } from './grant.js';

/**
 * RFC 8628 §3.4: the device polls with the device code from /oauth/device_authorization
 * until the person has answered at /device; `authorization_pending`, `slow_down`,
 * `access_denied` and `expired_token` say why there is nothing yet (§3.5).
 */
export const deviceCodeGrant = defineGrant({
  type: DEVICE_CODE_GRANT_TYPE,
  describe: 'device_code; client by HTTP Basic, client_secret, or client_id alone (public clients)',
  params: { device_code: Type.String() },
  parse: (params, authorization) => ({
    deviceCode: requiredParam(params, 'device_code'),
    authentication: params,
    authorization,
  }),
  async issue(request, { services, client, reply }) {
    const oauthClient = await authenticateClient(
      services.oauthClients,
      request.authentication,
      request.authorization,
      DEVICE_CODE_GRANT_TYPE,
    );
    try {
      const grant = await services.devices.poll(request.deviceCode, oauthClient, client);
      return clientGrantResponse(grant, reply);
    } catch (error) {
      if (error instanceof DeviceFlowError) throw new OAuthError(error.code, error.message);
      throw error;
    }
  },
});
