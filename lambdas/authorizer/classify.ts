/** Which policy may look at a credential. A key-shaped credential is only ever checked as a key, a JWT-shaped one only as a JWT. */
import { isKeyShaped } from '../shared/key-format';

export type CredentialKind = 'apiKey' | 'jwt' | 'unknown';

const JWT_SHAPE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/;

export function classifyCredential(credential: string): CredentialKind {
  if (isKeyShaped(credential)) return 'apiKey';
  if (JWT_SHAPE.test(credential)) return 'jwt';
  return 'unknown';
}
