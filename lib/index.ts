/**
 * dualgate's public API: the construct and the types a platform team writes its routes with. Everything not
 * exported here is internal and may change.
 */
export { DualAuthApi, RESOURCE_SERVER_ID, type DualAuthApiProps, type DualAuthRoute, type LeakDetectionOptions } from './dual-auth-api';
export type { LeakAction } from '../lambdas/leaks/leak-model';
export { DualAuthApiMonitoring, type DualAuthApiMonitoringOptions } from './monitoring';
export { DualgateConfigError, revocationDelayBoundSeconds, type DualgateConfig } from './config';
export { AmbiguousRouteTableError } from '../lambdas/authorizer/policy-compiler';
export { KEY_SCOPES, RouteTableError, type HttpMethod, type RouteMethod, type RouteRule } from '../lambdas/shared/route-table';
export type { IssuerConfig } from '../lambdas/shared/issuer-config';
export { DualgatePlans, type PlanLimits, type PlanQuota, type Plans, type QuotaPeriod } from './plans';
