import { type Static, Type } from 'typebox';
import { MfaFactorList } from '../../sessions/sessions.schemas.js';
import { noStore, sendTokenResponse } from '../../sessions/token-response.js';
import { OAuthErrorSchema } from '../oauth.errors.js';
import { requiredParam } from '../token-params.js';
import { defineGrant } from './grant.js';

/**
 * The answer when the account has MFA (403). Its type is checked here, where it is sent,
 * because the reply a grant is handed is not typed by the route's schemas.
 */
export const MfaRequiredSchema = Type.Object({
  ...OAuthErrorSchema.properties,
  mfa_token: Type.String(),
  factors: MfaFactorList,
});

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
    const grant = await services.signIn.signIn(username, password, client);
    if ('mfaToken' in grant) {
      // As Auth0 answers it: the client completes the sign-in at /api/auth/mfa/verify.
      noStore(reply);
      const body: Static<typeof MfaRequiredSchema> = {
        error: 'mfa_required',
        error_description: 'A second factor is required: POST /api/auth/mfa/verify',
        mfa_token: grant.mfaToken,
        factors: grant.factors,
      };
      return reply.status(403).send(body);
    }
    return sendTokenResponse(reply, grant);
  },
});
