/** The demo app's route table, compiled as the construct compiles it at synth, and its catalog: what tests run against. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNTIME_CONFIG_FILE, type RuntimeRouteConfig } from '../../lambdas/core/route-config';
import { DEMO_COMPILED_TABLE, DEMO_ROUTES, demoScopeCatalog } from '../../examples/demo/routes';

export { DEMO_COMPILED_TABLE } from '../../examples/demo/routes';
export const DEMO_CATALOG: readonly string[] = demoScopeCatalog();

let configFile: string | undefined;
/** The file the construct would write beside a Lambda bundle for the demo app (for tests that import a handler). */
export function demoRouteConfigFile(): string {
  if (configFile) return configFile;
  const config: RuntimeRouteConfig = { version: 2, routeTable: DEMO_COMPILED_TABLE, catalog: DEMO_CATALOG, managementBasePath: '/keys' };
  configFile = join(mkdtempSync(join(tmpdir(), 'dualgate-test-config-')), RUNTIME_CONFIG_FILE);
  writeFileSync(configFile, JSON.stringify(config));
  return configFile;
}

/** The demo's routes as construct props, every one served by `handler` (CDK tests of the construct itself). */
export function demoRoutesServedBy<H>(handler: H) {
  return DEMO_ROUTES.map(({ backend: _backend, ...route }) => ({ ...route, handler }));
}
