import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DeviceFlowError, type DeviceService } from '../oidc/device.service.js';
import type { ClientRegistry } from '../oidc/oidc.ports.js';
import { DEVICE_CODE_GRANT_TYPE } from '../oidc/oidc.types.js';
import { noStore } from '../sessions/token-response.js';
import { authenticateClient } from './client-auth.js';
import { OAUTH_ERROR_RESPONSES, OAuthError } from './oauth.errors.js';
import { useOAuthFormat } from './oauth.routes.js';
import { MAX_PARAM_LENGTH, readParams } from './token-params.js';

const DeviceAuthorizationRequest = Type.Object(
  {
    client_id: Type.Optional(Type.String()),
    client_secret: Type.Optional(Type.String()),
    scope: Type.Optional(
      Type.String({ description: 'openid profile email … and resource scopes' }),
    ),
    resource: Type.Optional(Type.String({ description: 'RFC 8707: a registered protected API' })),
  },
  { additionalProperties: true },
);

const DeviceAuthorizationResponse = Type.Object({
  device_code: Type.String(),
  user_code: Type.String({ description: 'Shown as XXXX-XXXX, for the person to type at /device' }),
  verification_uri: Type.String(),
  verification_uri_complete: Type.String(),
  expires_in: Type.Integer(),
  interval: Type.Integer(),
});

export interface DeviceAuthorizationRoutesOptions {
  oauthClients: Pick<ClientRegistry, 'authenticateClient'>;
  devices: Pick<DeviceService, 'start'>;
}

/** RFC 8628 §3.1: a device (a CLI, a headless agent) asks for a user grant. */
export const deviceAuthorizationRoutes: FastifyPluginAsyncTypebox<
  DeviceAuthorizationRoutesOptions
> = async (app, { oauthClients, devices }) => {
  useOAuthFormat(app);

  app.post(
    '/oauth/device_authorization',
    {
      // Each request stores a row: counted per address like the token endpoint.
      config: { ownErrors: true, rateLimit: 'auth' },
      schema: {
        tags: ['oauth'],
        summary: 'Device authorization (RFC 8628)',
        description:
          'The client authenticates as at the token endpoint (a public client by client_id ' +
          'alone) and must be allowed the device_code grant. The person enters user_code at ' +
          'verification_uri (or opens verification_uri_complete); the device polls the token ' +
          `endpoint with grant_type=${DEVICE_CODE_GRANT_TYPE} every interval seconds.`,
        consumes: ['application/x-www-form-urlencoded'],
        body: DeviceAuthorizationRequest,
        response: {
          200: DeviceAuthorizationResponse,
          ...OAUTH_ERROR_RESPONSES,
        },
      },
      attachValidation: true,
    },
    async (request, reply) => {
      const params = readParams(request.body);
      for (const name of ['scope', 'resource'])
        if ((params.get(name)?.length ?? 0) > MAX_PARAM_LENGTH)
          throw new OAuthError('invalid_request', `Parameter ${name} is too long`);
      const client = await authenticateClient(
        oauthClients,
        params,
        request.headers.authorization,
        DEVICE_CODE_GRANT_TYPE,
      );
      try {
        const started = await devices.start(client, {
          scope: params.get('scope') || undefined,
          resource: params.get('resource') || undefined,
        });
        noStore(reply);
        return {
          device_code: started.deviceCode,
          user_code: started.userCode,
          verification_uri: started.verificationUri,
          verification_uri_complete: started.verificationUriComplete,
          expires_in: started.expiresIn,
          interval: started.interval,
        };
      } catch (error) {
        if (error instanceof DeviceFlowError) throw new OAuthError(error.code, error.message);
        throw error;
      }
    },
  );
};
