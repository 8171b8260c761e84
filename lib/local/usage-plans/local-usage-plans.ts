/**
 * Local mode's usage plans, in one call: the emulator with one usage plan per dualgate plan (plus the shared
 * key, and the internal plan without limits when there is no defaultPlan, exactly as lib/construct/plans.ts deploys them),
 * its control-plane endpoint for the key API, its state kept in `--data`, and the DUALGATE_PLANS value for the
 * Lambdas. The gateway gets `emulator` as its `usagePlans` option.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Plans, RuntimePlans } from '../../../lambdas/core/plans';
import { startControlPlane } from './control-plane';
import { UsagePlanEmulator, type UsagePlanDefinition, type UsagePlanSnapshot } from './emulator';

/** In the --data directory, beside dynalite's files. */
const USAGE_PLANS_FILE = 'usage-plans.json';
/** Local mode's shared usage key: an identifier, not a credential (as on AWS). */
export const LOCAL_SHARED_USAGE_KEY = { id: 'dualgate-shared', value: 'dualgate-shared-local-usage-key', name: 'dualgate-shared' } as const;
/** The `dualgate:owner` tag on consumer keys made locally (nothing checks it here: there is no IAM). */
export const LOCAL_USAGE_KEY_OWNER = 'dualgate-local';
const UNASSIGNED_PLAN_ID = 'local-unassigned';
/** Counters are written at most this often while requests flow, and once more at stop. */
const SAVE_DELAY_MS = 1000;

export interface LocalUsagePlans {
  emulator: UsagePlanEmulator;
  /** For DUALGATE_APIGATEWAY_ENDPOINT. */
  endpoint: string;
  /** For DUALGATE_PLANS. */
  runtimePlans: RuntimePlans;
  stop(): Promise<void>;
}

/** The usage plans lib/construct/plans.ts would deploy for these plans, as emulator definitions. */
function usagePlanDefinitions(plans: Plans, defaultPlan: string | undefined): UsagePlanDefinition[] {
  const definitions: UsagePlanDefinition[] = Object.entries(plans).map(([name, limits]) => ({
    id: `local-${name}`,
    name: `local-${name}`,
    throttle: { rateLimitPerSecond: limits.rateLimitPerSecond, burstLimit: limits.burstLimit },
    ...(limits.quota ? { quota: limits.quota } : {}),
  }));
  if (defaultPlan === undefined) definitions.push({ id: UNASSIGNED_PLAN_ID, name: UNASSIGNED_PLAN_ID });
  return definitions;
}

export async function startLocalUsagePlans(options: {
  plans: Plans;
  defaultPlan?: string;
  host: string;
  dataDir?: string;
  nowMs?: () => number;
  allowedHosts?: readonly string[];
}): Promise<LocalUsagePlans> {
  const file = options.dataDir ? join(options.dataDir, USAGE_PLANS_FILE) : undefined;
  let timer: NodeJS.Timeout | undefined;
  const save = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!file) return;
    // Write then rename: a crash mid-write leaves the previous file, never half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(emulator.snapshot()));
    renameSync(`${file}.tmp`, file);
  };
  const emulator: UsagePlanEmulator = new UsagePlanEmulator({
    plans: usagePlanDefinitions(options.plans, options.defaultPlan),
    ...(options.nowMs ? { nowMs: options.nowMs } : {}),
    onChange: () => {
      if (file && !timer) {
        timer = setTimeout(save, SAVE_DELAY_MS);
        timer.unref();
      }
    },
  });
  if (file && existsSync(file)) emulator.restore(JSON.parse(readFileSync(file, 'utf8')) as UsagePlanSnapshot);
  const sharedPlanId = options.defaultPlan !== undefined ? `local-${options.defaultPlan}` : UNASSIGNED_PLAN_ID;
  emulator.ensureKeyInPlan(LOCAL_SHARED_USAGE_KEY, sharedPlanId);
  const controlPlane = await startControlPlane(emulator, options.host, options.allowedHosts ? { allowedHosts: options.allowedHosts } : {});
  return {
    emulator,
    endpoint: controlPlane.endpoint,
    runtimePlans: {
      usagePlanNames: Object.fromEntries(Object.keys(options.plans).map((name) => [name, `local-${name}`])),
      sharedUsageKey: LOCAL_SHARED_USAGE_KEY.value,
      usageKeyOwner: LOCAL_USAGE_KEY_OWNER,
      ...(options.defaultPlan !== undefined ? { defaultPlan: options.defaultPlan } : {}),
    },
    stop: async () => {
      await controlPlane.close();
      save();
    },
  };
}
