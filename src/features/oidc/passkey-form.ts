import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { Value } from 'typebox/value';
import { AuthenticationResponseBody } from '../passkeys/passkeys.schemas.js';

/** A passkey assertion as the second step's proof (the contract of MfaService.prove). */
export interface PasskeyProof {
  passkey: { challenge_id: string; response: AuthenticationResponseJSON };
}

/**
 * The passkey a page's script posted (`passkey_challenge_id`, and `passkey_response`: the
 * browser's AuthenticationResponseJSON as text): undefined when the form carries none (a code
 * was typed instead), 'malformed' when what it carries is not one — checked against the same
 * schema as the API's body, so both doors hand the service the same shape.
 */
export function readPasskeyAssertion(
  form: ReadonlyMap<string, string>,
): PasskeyProof | 'malformed' | undefined {
  const challengeId = form.get('passkey_challenge_id') ?? '';
  const text = form.get('passkey_response') ?? '';
  if (challengeId === '' && text === '') return undefined;
  let response: unknown;
  try {
    response = JSON.parse(text);
  } catch {
    return 'malformed';
  }
  if (
    challengeId === '' ||
    challengeId.length > 128 ||
    !Value.Check(AuthenticationResponseBody, response)
  )
    return 'malformed';
  return { passkey: { challenge_id: challengeId, response } };
}
