/**
 * `dualgate/context`: what a backend Lambda reads, whichever credential the caller used. Pure TypeScript with no
 * dependencies (no aws-cdk-lib), so a function can bundle it:
 *
 * ```ts
 * import { principalFrom } from 'dualgate/context';
 * const { sub, scopes } = principalFrom(event);
 * ```
 *
 * @packageDocumentation
 * @module dualgate/context
 */
export {
  hasScopes,
  MissingPrincipalError,
  principalFrom,
  type AuthMethod,
  type AuthorizerContext,
  type CallerIdentity,
  type EventWithAuthorizer,
} from '../lambdas/core/principal';
