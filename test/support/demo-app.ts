/** The demo app's route table, compiled as the construct compiles it at synth, and its catalog: what tests run against. */
import { demoScopeCatalog } from '../../lib/demo/demo-routes';

export { DEMO_COMPILED_TABLE } from '../../lib/demo/demo-routes';
export const DEMO_CATALOG: readonly string[] = demoScopeCatalog();
