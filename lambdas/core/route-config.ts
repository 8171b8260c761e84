/**
 * The app's route table and scope catalog as the Lambdas receive them: a JSON file the construct writes into
 * their code asset at synth (lib/construct/lambda-code.ts). A Lambda environment holds 4 KB in all, too little for hundreds
 * of routes, and a file in the asset costs no network call at cold start.
 */
import { AUTHORIZER_CACHE_SCOPES, type CompiledRouteTable } from './route-table';
import { isRouteMethod, isScopeName, routeKey, routePathProblem } from './route-validation';
import { validatePlans, type Plans } from './plans';
import { SettingsError } from './settings';

export const RUNTIME_CONFIG_FILE = 'dualgate-config.json';
/** Overrides where the file is read from (local mode, tests). */
export const RUNTIME_CONFIG_FILE_VARIABLE = 'DUALGATE_CONFIG_FILE';

export interface RuntimeRouteConfig {
  readonly version: 2;
  /** The authorized routes, compiled and checked at synth, and what the authorizer's cached result covers. */
  readonly routeTable: CompiledRouteTable;
  /** Every scope a key may carry: the routes' scopes, the management scopes, the admin scope and `extraScopes`. */
  readonly catalog: readonly string[];
  /** Where the key API is mounted (`/keys` by default), or null when it is off. */
  readonly managementBasePath: string | null;
  /** The plans as configured (local mode emulates them from this); absent without plans. */
  readonly plans?: { plans: Plans; defaultPlan?: string };
  /** `portal.defaultScopes`: the scopes every consumer is entitled to (lambdas/core/entitlements.ts); absent = none. */
  readonly entitlements?: { defaultScopes: readonly string[] };
}

function fail(problem: string): never {
  throw routeConfigError(problem);
}

const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

/** Check the file's shape: it is written by our synth, but a hand-edited asset must fail the cold start, not a request. */
export function parseRuntimeRouteConfig(raw: unknown): RuntimeRouteConfig {
  if (raw === null || typeof raw !== 'object') fail('not a JSON object');
  const config = raw as Record<string, unknown>;
  if (config['version'] !== 2) fail(`unsupported version ${JSON.stringify(config['version'])}`);
  const table = config['routeTable'] as Record<string, unknown> | undefined;
  const cacheScope = table?.['cacheScope'];
  if (!(AUTHORIZER_CACHE_SCOPES as readonly unknown[]).includes(cacheScope))
    fail(`routeTable.cacheScope must be one of ${AUTHORIZER_CACHE_SCOPES.join(', ')}`);
  const routes = table?.['routes'];
  const coveredBy = table?.['coveredBy'];
  if (!Array.isArray(routes)) fail('routeTable.routes must be a list');
  if (cacheScope === 'credential' && (!Array.isArray(coveredBy) || coveredBy.length !== routes.length))
    fail('routeTable must hold routes and coveredBy of the same length');
  if (cacheScope === 'route' && coveredBy !== undefined) fail('routeTable.coveredBy belongs to the credential cache scope only');
  const seen = new Set<string>();
  const checkedScopes = new Set<string>();
  for (const [index, route] of (routes as unknown[]).entries()) {
    const rule = route as Record<string, unknown> | null;
    if (!rule || !isRouteMethod(rule['method']) || typeof rule['path'] !== 'string' || !isStringArray(rule['scopes'])) {
      fail(`routeTable.routes[${index}] is not {method, path, scopes}`);
    }
    // A hand-edited path with IAM wildcards (`/*`, `/a?min`) or an empty scope would widen every policy: refuse it.
    const pathProblem = routePathProblem(rule['path']);
    if (pathProblem !== undefined) fail(`routeTable.routes[${index}]: ${pathProblem}`);
    for (const scope of rule['scopes'] as string[]) {
      if (checkedScopes.has(scope)) continue;
      if (!isScopeName(scope)) fail(`routeTable.routes[${index}].scopes must be scope names`);
      checkedScopes.add(scope);
    }
    if (rule['authorized'] !== undefined) fail(`routeTable.routes[${index}]: the compiled table holds authorized routes only`);
    // Two entries for one method would make the route's scopes depend on which one a lookup finds first.
    const key = routeKey({ method: rule['method'], path: rule['path'] });
    if (seen.has(key)) fail(`routeTable.routes[${index}]: ${key} is listed twice`);
    seen.add(key);
    if (cacheScope !== 'credential') continue;
    const covers = (coveredBy as unknown[])[index];
    if (!Array.isArray(covers) || !covers.every((cover) => Number.isInteger(cover) && cover >= 0 && cover < routes.length))
      fail(`routeTable.coveredBy[${index}] is not a list of route indexes`);
  }
  const catalog = config['catalog'];
  if (!isStringArray(catalog) || !catalog.every(isScopeName)) fail('catalog must be a list of scope names');
  const basePath = config['managementBasePath'];
  if (basePath !== null && (typeof basePath !== 'string' || !basePath.startsWith('/'))) fail('managementBasePath must be a path or null');
  const routeTable = (cacheScope === 'credential' ? { cacheScope, routes, coveredBy } : { cacheScope, routes }) as CompiledRouteTable;
  let parsed: RuntimeRouteConfig = { version: 2, routeTable, catalog, managementBasePath: basePath as string | null };
  const entitlements = config['entitlements'] as { defaultScopes?: unknown } | undefined | null;
  if (entitlements !== undefined) {
    const defaults = entitlements?.defaultScopes;
    if (!isStringArray(defaults) || !defaults.every((scope) => catalog.includes(scope)))
      fail('entitlements.defaultScopes must be a list of catalog scopes');
    parsed = { ...parsed, entitlements: { defaultScopes: defaults } };
  }
  if (config['plans'] === undefined) return parsed;
  const plans = config['plans'] as { plans?: unknown; defaultPlan?: unknown } | null;
  try {
    return {
      ...parsed,
      plans: validatePlans(plans?.plans, plans?.defaultPlan, { plans: 'plans.plans', defaultPlan: 'plans.defaultPlan' }),
    };
  } catch (error) {
    fail((error as Error).message);
  }
}

/** The file's text, parsed and checked (lambdas/shared/route-config-file.ts reads it). */
export function parseRuntimeRouteConfigText(text: string): RuntimeRouteConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail('not valid JSON');
  }
  return parseRuntimeRouteConfig(parsed);
}

/** The error every problem with the file becomes, its name first. */
export function routeConfigError(problem: string): SettingsError {
  return new SettingsError(`${RUNTIME_CONFIG_FILE}: ${problem}`);
}
