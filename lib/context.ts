/**
 * `dualgate/context`: what a backend Lambda reads, whichever credential the caller used. Pure TypeScript with no
 * dependencies (no aws-cdk-lib), so a function can bundle it:
 *
 *   import { principalFrom } from 'dualgate/context';
 *   const { sub, scopes } = principalFrom(event);
 */
export { hasScopes, MissingPrincipalError, principalFrom, type AuthorizerContext, type CallerIdentity } from '../lambdas/shared/principal';
