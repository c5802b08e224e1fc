import { Type } from 'typebox';
import { sendTokenResponse } from '../../sessions/token-response.js';
import { requiredParam } from '../token-params.js';
import { defineGrant } from './grant.js';

/** RFC 6749 §6: rotates like /api/auth/refresh (the presented token is spent). */
export const refreshTokenGrant = defineGrant({
  type: 'refresh_token',
  describe: 'refresh_token',
  params: { refresh_token: Type.String() },
  parse: (params) => ({ refreshToken: requiredParam(params, 'refresh_token') }),
  issue: async ({ refreshToken }, { services, client, reply }) =>
    sendTokenResponse(reply, await services.refresh.refresh(refreshToken, client)),
});
