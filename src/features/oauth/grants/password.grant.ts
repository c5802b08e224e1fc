import { Type } from 'typebox';
import { noStore, sendTokenResponse } from '../../sessions/token-response.js';
import { requiredParam } from '../token-params.js';
import { defineGrant } from './grant.js';

/** RFC 6749 §4.3: a user's own e-mail and password. */
export const passwordGrant = defineGrant({
  type: 'password',
  describe: 'username, password',
  params: { username: Type.String(), password: Type.String() },
  openApiFlow: 'password',
  // Client credentials sent alongside (Swagger UI sends its client id) are ignored: this
  // grant serves public clients.
  parse: (params) => ({
    username: requiredParam(params, 'username'),
    password: requiredParam(params, 'password'),
  }),
  async issue({ username, password }, { services, client, reply }) {
    const grant = await services.sessions.signIn(username, password, client);
    if ('mfaToken' in grant) {
      // As Auth0 answers it: the client completes the sign-in at /api/auth/mfa/verify.
      noStore(reply);
      return reply.status(403).send({
        error: 'mfa_required',
        error_description: 'A second factor is required: POST /api/auth/mfa/verify',
        mfa_token: grant.mfaToken,
      });
    }
    return sendTokenResponse(reply, grant);
  },
});
