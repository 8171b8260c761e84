/**
 * dualgate's public API: the construct and the types a platform team writes its routes with. Everything not
 * exported here is internal and may change.
 *
 * @packageDocumentation
 * @module dualgate
 */
export {
  DualAuthApi,
  RESOURCE_SERVER_ID,
  type DualAuthApiProps,
  type DualAuthRoute,
  type LeakDetectionOptions,
  type PortalOidcOptions,
  type PortalOptions,
} from './construct/dual-auth-api';
export type { LeakAction } from '../lambdas/leaks/leak-model';
export { DualAuthApiMonitoring, type DualAuthApiMonitoringOptions } from './construct/monitoring';
export { DualgateConfigError, revocationDelayBoundSeconds, type DualgateConfig } from './construct/config';
export { AmbiguousRouteTableError } from '../lambdas/core/policy-compiler';
export {
  HTTP_METHODS,
  KEY_SCOPES,
  RouteTableError,
  type AuthorizerCacheScope,
  type HttpMethod,
  type RouteMethod,
  type RouteRule,
} from '../lambdas/core/route-table';
export type { IssuerConfig, OidcIssuer } from '../lambdas/core/issuer-config';
export { DualgatePlans, type PlanLimits, type PlanQuota, type Plans, type QuotaPeriod } from './construct/plans';
export { QUOTA_PERIODS } from '../lambdas/core/plans';
