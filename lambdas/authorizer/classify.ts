/**
 * Which credential check may look at a credential, decided on cheap facts (no full-string regex here): a JWT has
 * dots, an API key never does. Each check then verifies its own syntax before any I/O, so a
 * key-shaped credential is only ever checked as a key and a JWT-shaped one only as a JWT.
 */
import { KEY_MAX_LENGTH } from '../core/key-format';

export type CredentialKind = 'apiKey' | 'jwt' | 'unknown';

export function classifyCredential(credential: string): CredentialKind {
  if (credential.includes('.')) return 'jwt';
  if (credential.length <= KEY_MAX_LENGTH && credential.indexOf('_') > 0) return 'apiKey';
  return 'unknown';
}
