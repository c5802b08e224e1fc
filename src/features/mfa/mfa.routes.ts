import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { FactorProof } from './factor.js';
import type { MfaService } from './mfa.service.js';
import { requireAuth } from '../../http/authenticate.js';
import { clientContext } from '../../http/client-context.js';
import { problemResponses } from '../../http/schemas.js';
import { AppError } from '../../errors.js';
import { PasskeyAssertion, toPasskeyProof } from '../passkeys/passkeys.schemas.js';
import { SessionTokenResponse } from '../sessions/sessions.schemas.js';
import { noStore, sendTokenResponse } from '../sessions/token-response.js';

const Code = Type.String({
  minLength: 6,
  maxLength: 32,
  description: 'A six-digit TOTP code, or a recovery code (xxxxx-xxxxx)',
});
const CodeBody = Type.Object({ code: Code }, { additionalProperties: false });
const TAGS = ['mfa'];

export const mfaRoutes: FastifyPluginAsyncTypebox<{ mfa: MfaService }> = async (app, { mfa }) => {
  app.post(
    '/api/auth/mfa/totp/setup',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Start TOTP enrolment: a new secret and its otpauth:// URL (for a QR code)',
        response: {
          200: Type.Object({ secret: Type.String(), otpauth_url: Type.String() }),
          ...problemResponses('unauthorized', 'conflict'),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return mfa.setup(requireAuth(request).userId);
    },
  );

  app.post(
    '/api/auth/mfa/totp/confirm',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Confirm enrolment with a first code: MFA is on; 10 recovery codes, shown once',
        body: CodeBody,
        response: {
          200: Type.Object({ recovery_codes: Type.Array(Type.String()) }),
          ...problemResponses(
            'validation_failed',
            'unauthorized',
            'invalid_mfa_code',
            'conflict',
            'rate_limited',
          ),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return mfa.confirm(requireAuth(request).userId, request.body.code, clientContext(request));
    },
  );

  app.post(
    '/api/auth/mfa/totp/disable',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Turn MFA off (takes a current code or a recovery code)',
        body: CodeBody,
        response: {
          204: { type: 'null', description: 'MFA is off' },
          ...problemResponses(
            'validation_failed',
            'unauthorized',
            'invalid_mfa_code',
            'conflict',
            'rate_limited',
          ),
        },
      },
    },
    async (request, reply) => {
      await mfa.disable(requireAuth(request).userId, request.body.code, clientContext(request));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/auth/mfa/verify',
    {
      schema: {
        tags: TAGS,
        summary:
          'Second step of a sign-in: the mfa_token and a TOTP or recovery code, or a passkey',
        description:
          'Exactly one of `code` and `passkey`. Each recovery code works once; a TOTP code ' +
          'never twice. A passkey answers the options of POST /api/auth/passkeys/signin/options ' +
          'asked with this `mfa_token`.',
        body: Type.Object(
          {
            mfa_token: Type.String({ minLength: 1, maxLength: 512 }),
            code: Type.Optional(Code),
            passkey: Type.Optional(PasskeyAssertion),
          },
          { additionalProperties: false },
        ),
        response: {
          200: SessionTokenResponse,
          ...problemResponses(
            'validation_failed',
            'unauthorized',
            'invalid_mfa_code',
            'account_disabled',
            'rate_limited',
          ),
        },
      },
    },
    async (request, reply) => {
      const { mfa_token, code, passkey } = request.body;
      let proof: FactorProof;
      if (code !== undefined && passkey === undefined) proof = { code };
      else if (passkey !== undefined && code === undefined)
        proof = { passkey: toPasskeyProof(passkey) };
      else
        throw new AppError('validation_failed', 'Give exactly one of code and passkey', [
          { field: 'code', message: 'exactly one of code and passkey is required' },
        ]);
      return sendTokenResponse(reply, await mfa.verify(mfa_token, proof, clientContext(request)));
    },
  );
};
