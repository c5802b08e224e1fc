import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { Value } from 'typebox/value';
import { AppError } from '../../errors.js';
import type { FactorProof } from '../mfa/factor.js';
import {
  PasskeyAssertion,
  RegistrationResponse,
  toPasskeyProof,
  toRegistrationResponse,
} from '../passkeys/passkeys.schemas.js';

// What the pages' scripts post after a WebAuthn ceremony: the browser's response as JSON text
// in a form field. Checked against the same schemas as the API's bodies, so both doors hand
// the passkeys service the same shape.

/** A passkey assertion as a second step's (or a sign-in's) proof. */
export type PasskeyProof = Extract<FactorProof, { passkey: unknown }>;

const parse = (text: string | undefined): unknown => {
  try {
    return JSON.parse(text ?? '');
  } catch {
    return undefined;
  }
};

/**
 * The assertion a form carries (`passkey_challenge_id`, `passkey_response`): undefined when it
 * carries none (a code was typed instead), 'malformed' when what it carries is not one.
 */
export function readPasskeyAssertion(
  form: ReadonlyMap<string, string>,
): PasskeyProof | 'malformed' | undefined {
  const challengeId = form.get('passkey_challenge_id') ?? '';
  const text = form.get('passkey_response') ?? '';
  if (challengeId === '' && text === '') return undefined;
  const assertion = { challenge_id: challengeId, response: parse(text) };
  if (!Value.Check(PasskeyAssertion, assertion)) return 'malformed';
  return { passkey: toPasskeyProof(assertion) };
}

/** The RegistrationResponseJSON a form carries (`passkey_response`); a 400 if it is none. */
export function readPasskeyRegistration(
  form: ReadonlyMap<string, string>,
): RegistrationResponseJSON {
  const response = parse(form.get('passkey_response'));
  if (!Value.Check(RegistrationResponse, response))
    throw new AppError('validation_failed', 'The browser sent no passkey; try again');
  return toRegistrationResponse(response);
}
