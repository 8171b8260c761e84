/**
 * `/consumers/{sub}`: a consumer's plan and entitlements. PUT sets a plan and/or the scopes it is entitled to
 * (admin, audited), DELETE clears the plan (admin), GET shows both, with today's usage, to the consumer itself or an
 * admin.
 *
 * Plans: PUT assigns a plan, DELETE clears it. A consumer with a plan has its own API Gateway key, created here,
 * moved between the plans' usage plans and deleted when the plan is cleared (API Gateway allows 10,000 keys per
 * account and Region); the authorizer returns its value as `usageIdentifierKey`.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { z } from 'zod';
import type { ConsumerStore, EntitlementStore } from '../shared/consumer-store';
import { currentEntitlements } from '../core/entitlements';
import { jsonResponse } from '../shared/http-response';
import { KeyStoreUnavailableError, KeyWriteConflictError } from '../shared/key-store';
import { errorFields, type Logger } from '../shared/logger';
import { CONSUMER_SUB_PATTERN, type ConsumerRecord, type RuntimePlans } from '../core/plans';
import type { CallerIdentity } from '../core/principal';
import { InvalidRequestError, KeyApiError, ForbiddenError } from './errors';
import { isAdmin } from './scopes';
import { UsageKeyDeleteRefusedError, UsageKeyLimitError, UsagePlanUnavailableError, type UsagePlanGateway } from './usage-plan-gateway';

/** At most this many scopes in one consumer's entitlements (an item stays far below DynamoDB's 400 KB). */
const MAX_ENTITLED_SCOPES = 200;

/** The documented shapes (lib/build/keys-openapi.ts); the handler checks the body by hand to name the field at fault. */
export const setPlanBodySchema = z
  .object({
    plan: z.string().optional().describe('one of the configured plans (APIs with plans only)'),
    scopes: z
      .array(z.string())
      .max(MAX_ENTITLED_SCOPES)
      .optional()
      .describe("the consumer's entitlements, replacing the list it had (catalog scopes; [] clears them)"),
  })
  .strict();
export const consumerSchema = z.object({
  sub: z.string(),
  plan: z.string().nullable().describe('the assigned plan, or defaultPlan (null without one) when none is assigned'),
  assigned: z.boolean().describe('true when the consumer has a plan (and a bucket) of its own'),
  scopes: z.array(z.string()).describe('the scopes an admin entitled this consumer to'),
  defaultScopes: z.array(z.string()).describe('portal.defaultScopes: what every consumer is entitled to'),
  entitledScopes: z.array(z.string()).describe('scopes + defaultScopes: what the consumer may put on its keys beside its token scopes'),
});
export const consumerWithUsageSchema = consumerSchema.extend({
  usage: z
    .object({
      date: z.string().describe('today, UTC (YYYY-MM-DD)'),
      used: z.number().int().describe("requests counted today (API Gateway's GetUsage, or local mode's counters)"),
      remaining: z.number().int().nullable().describe('left in the current quota period; null when the plan has no quota'),
    })
    .nullable()
    .describe('null for a consumer without a plan of its own (it shares the default bucket)'),
});

/** Plans' side of a consumer: the usage key and its usage plan. */
export interface ConsumerContext {
  store: ConsumerStore;
  usagePlans: UsagePlanGateway;
  plans: RuntimePlans;
  adminScope: string;
  logger: Logger;
  nowMs: () => number;
}

export interface ConsumerRequest {
  caller: CallerIdentity;
  sub: string | undefined;
  body: unknown;
}

/**
 * 409: no API key left (API Gateway's 10,000 per account and Region; clearing a consumer's plan frees one), or a
 * concurrent change of the same consumer.
 */
class ConsumerConflictError extends KeyApiError {
  override readonly name = 'ConsumerConflictError';
  readonly statusCode = 409;
}

function subOf(request: ConsumerRequest): string {
  const sub = request.sub;
  if (sub === undefined || !CONSUMER_SUB_PATTERN.test(sub))
    throw new InvalidRequestError('sub: must be 1 to 256 characters without control characters', 'sub');
  return sub;
}

function assertAdmin(context: Pick<ConsumerContext, 'adminScope'>, caller: CallerIdentity): void {
  if (!isAdmin(caller, context.adminScope))
    throw new ForbiddenError(`only holders of ${context.adminScope} may change a consumer's plan or entitlements`);
}

function view(context: ConsumerContext, sub: string, record: ConsumerRecord | undefined) {
  const assigned = record?.plan !== undefined;
  return { sub, plan: assigned ? record?.plan : (context.plans.defaultPlan ?? null), assigned };
}

function audit(
  context: Pick<ConsumerContext, 'logger' | 'nowMs'>,
  caller: CallerIdentity,
  action: 'consumer.set-plan' | 'consumer.clear-plan' | 'consumer.set-scopes',
  sub: string,
  before: string | null | string[],
  after: string | null | string[],
  /** Clearing: the API Gateway key id (never its value) and whether it was deleted. */
  usageKey: { usageKeyId: string; usageKeyDeleted: boolean } | Record<string, never> = {},
): void {
  context.logger.info('audit', {
    action,
    actorSub: caller.sub,
    authMethod: caller.authMethod,
    ...(caller.keyId !== undefined ? { actorKeyId: caller.keyId } : {}),
    sub,
    changes: action === 'consumer.set-scopes' ? { scopes: { before, after } } : { plan: { before, after } },
    ...usageKey,
    time: new Date(context.nowMs()).toISOString(),
  });
}

type PlanView = ReturnType<typeof view>;
type Usage = { date: string; used: number; remaining: number | null } | null;

/** The plan and, for a consumer with a plan of its own, today's count and what is left of the quota. */
async function planWithUsage(context: ConsumerContext, sub: string): Promise<PlanView & { usage: Usage }> {
  const record = await context.store.getConsumerConsistent(sub);
  const shown = view(context, sub, record);
  if (!record || record.plan === undefined) return { ...shown, usage: null };
  const usagePlanId = await planIdOf(context, record.keyPlan);
  const date = new Date(context.nowMs()).toISOString().slice(0, 10);
  const usage = usagePlanId === undefined ? null : { date, ...(await context.usagePlans.usageOn(usagePlanId, record.apiKeyId, date)) };
  return { ...shown, usage };
}

/** How often a PUT starts over after another request changed the same consumer under it. */
const MAX_ATTEMPTS = 3;

/** PUT `{"plan": "<name>"}`: give the consumer its own key in that plan's usage plan (or move the one it has). */
async function assignPlan(context: ConsumerContext, caller: CallerIdentity, sub: string, plan: string): Promise<PlanView> {
  const request = { caller };
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const existing = await context.store.getConsumerConsistent(sub);
    // Settled in that plan: the key is where the record says (ConsumerRecord.keyPlan), so no API Gateway call. A
    // repeated PUT (a retry, a sync job) costs one read; one after a failed or interrupted move finds it unsettled.
    if (existing?.plan === plan && existing.keyPlan === plan) return view(context, sub, existing);
    if (existing && existing.plan === undefined) {
      // A deletion that stopped half-way (or a record cleared by a dualgate that kept keys): finish it, then
      // start afresh with a new key. Its key is never moved back into a plan: a DELETE may be deleting it.
      try {
        await purge(context, existing);
      } catch (error) {
        // Assigned again meanwhile by another request: read what it wrote.
        if (!(error instanceof ConsumerConflictError)) throw error;
      }
      continue;
    }
    const usagePlanId = await requirePlanId(context, plan);
    const stamp = { updatedAt: new Date(context.nowMs()).toISOString(), updatedBy: request.caller.sub };
    if (existing) {
      const settled = await changePlan(context, existing, plan, usagePlanId, stamp);
      // Another request changed the record under this one: read its state and go on from there.
      if (settled === undefined) continue;
      // Before: the plan whose usage plan last held the key for certain.
      audit(context, request.caller, 'consumer.set-plan', sub, existing.keyPlan, plan);
      return view(context, sub, settled);
    }
    const created = await createConsumer(context, sub, plan, usagePlanId, stamp);
    // Another request created the record first (our key is deleted again): read its state and go on from there.
    if (created === undefined) continue;
    audit(context, request.caller, 'consumer.set-plan', sub, null, plan);
    return view(context, sub, created);
  }
  throw new ConsumerConflictError('consumer changed concurrently; retry');
}

/**
 * The `plan` field: one of the configured plans (400 otherwise). With `deployed`, its usage plan must be found too
 * (503 otherwise): a PUT that also replaces the entitlements checks it before writing anything.
 */
async function checkPlan(context: ConsumerContext, plan: unknown, options: { deployed: boolean }): Promise<string> {
  if (typeof plan !== 'string' || !Object.hasOwn(context.plans.usagePlanNames, plan)) {
    throw new InvalidRequestError(
      `plan: must be one of ${Object.keys(context.plans.usagePlanNames).join(', ')} (got ${JSON.stringify(plan)})`,
      'plan',
    );
  }
  if (options.deployed) await requirePlanId(context, plan);
  return plan;
}

/**
 * A new key in the plan's usage plan, then the record naming it, written only if none exists. Undefined when
 * another request created the record first. Whatever fails after CreateApiKey, the fresh key does not outlive
 * the request unless a record may name it.
 */
async function createConsumer(
  context: ConsumerContext,
  sub: string,
  plan: string,
  usagePlanId: string,
  stamp: { updatedAt: string; updatedBy: string },
): Promise<ConsumerRecord | undefined> {
  let key: { id: string; value: string };
  try {
    key = await context.usagePlans.createUsageKey(sub);
  } catch (error) {
    if (error instanceof UsageKeyLimitError) {
      throw new ConsumerConflictError(
        `${error.message}; DELETE /consumers/{sub} of a consumer that no longer needs a plan of its own frees its key, or give consumers the defaultPlan instead`,
      );
    }
    throw error;
  }
  const next: ConsumerRecord = { sub, plan, keyPlan: plan, apiKeyId: key.id, apiKeyValue: key.value, ...stamp };
  try {
    // Key in its usage plan before the record names it: the authorizer never hands out a key that is in no plan.
    await context.usagePlans.addToPlan(usagePlanId, key.id);
    await context.store.putConsumer(next, undefined);
    return next;
  } catch (error) {
    if (error instanceof KeyStoreUnavailableError) {
      // The write's outcome is unknown (a timeout may follow a write that landed): look before deleting the key.
      const stored = await context.store.getConsumerConsistent(sub).then(
        (record) => ({ record }),
        () => undefined,
      );
      if (stored === undefined) {
        context.logger.error('usage key may be left behind', { reason: 'usage_key_orphaned', apiKeyId: key.id, ...errorFields(error) });
        throw error;
      }
      if (stored.record?.apiKeyId === key.id) return next;
      if (stored.record !== undefined) {
        // Another request's record: ours did not land, as on a conflict.
        await discardKey(context, usagePlanId, key.id);
        return undefined;
      }
    }
    await discardKey(context, usagePlanId, key.id);
    if (isWriteConflict(error)) return undefined;
    throw error;
  }
}

/** Best effort: take a key no record names out of its plan and delete it; a failure is logged with the key id. */
async function discardKey(context: ConsumerContext, usagePlanId: string, keyId: string): Promise<void> {
  try {
    await context.usagePlans.removeFromPlan(usagePlanId, keyId);
    await context.usagePlans.deleteUsageKey(keyId);
  } catch (error) {
    context.logger.error('usage key left behind', { reason: 'usage_key_orphaned', apiKeyId: keyId, ...errorFields(error) });
  }
}

/**
 * DELETE: back to the default (the shared key), deleting the consumer's own API Gateway key and its record.
 * Idempotent. The record loses its plan first, so from then on the authorizer hands out the shared key however
 * the rest goes; then the key leaves its usage plan and is deleted; then the record goes. A DELETE or PUT that
 * finds a record without a plan finishes the job.
 */
async function clearPlan(context: ConsumerContext, caller: CallerIdentity, sub: string): Promise<PlanView> {
  const request = { caller };
  const existing = await context.store.getConsumerConsistent(sub);
  if (!existing) return view(context, sub, undefined);
  let unplanned = existing;
  if (existing.plan !== undefined) {
    const { plan: _plan, ...rest } = existing;
    unplanned = { ...rest, updatedAt: new Date(context.nowMs()).toISOString(), updatedBy: request.caller.sub };
    await writeOrConflict(() => context.store.putConsumer(unplanned, existing));
  }
  // An unsettled record (a move that stopped half-way): its key may be in any of this API's usage plans.
  const purged = await purge(context, unplanned, { anyPlan: existing.plan !== undefined && existing.plan !== existing.keyPlan });
  audit(context, request.caller, 'consumer.clear-plan', sub, existing.plan ?? null, null, {
    usageKeyId: unplanned.apiKeyId,
    usageKeyDeleted: purged.keyDeleted,
  });
  return view(context, sub, undefined);
}

/**
 * Finish deleting a record without a plan: its key out of its usage plan, the key deleted, then the record
 * (only if it is still this one). Throws ConsumerConflictError when the consumer was assigned a plan again meanwhile.
 */
async function purge(
  context: ConsumerContext,
  unplanned: ConsumerRecord,
  options: { anyPlan?: boolean } = {},
): Promise<{ keyDeleted: boolean }> {
  for (const plan of options.anyPlan ? Object.keys(context.plans.usagePlanNames) : [unplanned.keyPlan]) {
    // A plan removed from the config since: its usage plan is gone, and with it the key's membership.
    const usagePlanId = await planIdOf(context, plan);
    if (usagePlanId !== undefined) await context.usagePlans.removeFromPlan(usagePlanId, unplanned.apiKeyId);
  }
  let keyDeleted = true;
  try {
    await context.usagePlans.deleteUsageKey(unplanned.apiKeyId);
  } catch (error) {
    if (!(error instanceof UsageKeyDeleteRefusedError)) throw error;
    // A key created untagged (before dualgate tagged its keys) is not this API's to delete, and IAM may answer the
    // same for a key already gone. It is in no usage plan now, so nothing counts against it: an operator deletes
    // it by hand (docs/plans.md). Keeping the record would only block the consumer's next PUT.
    context.logger.error('usage key not deleted', {
      reason: 'usage_key_delete_refused',
      apiKeyId: unplanned.apiKeyId,
      ...errorFields(error),
    });
    keyDeleted = false;
  }
  try {
    await context.store.deleteConsumer(unplanned);
  } catch (error) {
    if (!isWriteConflict(error)) throw error;
    // Already deleted by a concurrent DELETE or PUT is done; a record with a plan again is a change we lost to.
    const current = await context.store.getConsumerConsistent(unplanned.sub);
    if (current?.plan !== undefined) throw new ConsumerConflictError('consumer changed concurrently; retry');
  }
  return { keyDeleted };
}

/**
 * Move the consumer's key into `plan`'s usage plan in three steps, each safe to stop after (ConsumerRecord.keyPlan):
 * the record names the new plan while keyPlan still names the old one (unsettled), the key moves, and the record
 * settles (keyPlan = plan). A record that is unsettled already needs no first step. On a failure the move is undone
 * (undoMove); whatever the undo cannot do leaves the record unsettled, and the next PUT of either plan finishes it.
 * Undefined when another request changed the record first.
 */
async function changePlan(
  context: ConsumerContext,
  existing: ConsumerRecord,
  plan: string,
  usagePlanId: string,
  stamp: { updatedAt: string; updatedBy: string },
): Promise<ConsumerRecord | undefined> {
  const wasSettled = existing.plan === existing.keyPlan;
  const unsettled: ConsumerRecord = wasSettled ? { ...existing, plan, ...stamp } : existing;
  if (wasSettled && !(await writeUnlessConflict(() => context.store.putConsumer(unsettled, existing)))) return undefined;
  // Where the key may be: in the settled plan's usage plan; after a move that stopped half-way, in any of this API's
  // (a concurrent move may have put it in a third) or none. API Gateway keeps a key in one usage plan per stage.
  const holders = wasSettled ? [existing.keyPlan] : Object.keys(context.plans.usagePlanNames);
  const move = { existing, unsettled, wasSettled, usagePlanId };
  try {
    for (const holder of holders) {
      const holderId = holder === plan ? undefined : await planIdOf(context, holder);
      if (holderId !== undefined) await context.usagePlans.removeFromPlan(holderId, existing.apiKeyId);
    }
    await context.usagePlans.addToPlan(usagePlanId, existing.apiKeyId);
  } catch (error) {
    await undoMove(context, move);
    throw error;
  }
  const settled: ConsumerRecord = { ...unsettled, plan, keyPlan: plan, ...stamp };
  try {
    await context.store.putConsumer(settled, unsettled);
    return settled;
  } catch (error) {
    // A conflict: the other request found the record unsettled, so it reconciles wherever the key now is.
    if (isWriteConflict(error)) return undefined;
    // The write's outcome is unknown (a timeout may follow a write that landed): look before undoing the move.
    const stored = await context.store.getConsumerConsistent(existing.sub).then(
      (record) => ({ record }),
      () => undefined,
    );
    // Unreadable: leave the key in `plan`, which both records the write may have left allow.
    if (stored === undefined) throw error;
    if (sameRecord(stored.record, settled)) return settled;
    if (!sameRecord(stored.record, unsettled)) return undefined;
    await undoMove(context, move);
    throw error;
  }
}

/**
 * Best effort after a failed move: the key back in the usage plan of the record's keyPlan and, if this request
 * unsettled the record, the record as it was; a PUT that failed then changed nothing. What fails is logged with the
 * key id, and the record stays unsettled (the next PUT settles it).
 */
async function undoMove(
  context: ConsumerContext,
  move: { existing: ConsumerRecord; unsettled: ConsumerRecord; wasSettled: boolean; usagePlanId: string },
): Promise<void> {
  const { existing, unsettled, wasSettled, usagePlanId } = move;
  try {
    const backId = await planIdOf(context, existing.keyPlan);
    if (backId !== usagePlanId) {
      await context.usagePlans.removeFromPlan(usagePlanId, existing.apiKeyId);
      if (backId !== undefined) await context.usagePlans.addToPlan(backId, existing.apiKeyId);
    }
    if (wasSettled) await context.store.putConsumer(existing, unsettled);
  } catch (error) {
    context.logger.error('usage key move left unsettled', {
      reason: 'usage_key_move_unsettled',
      apiKeyId: existing.apiKeyId,
      ...errorFields(error),
    });
  }
}

const sameRecord = (a: ConsumerRecord | undefined, b: ConsumerRecord): boolean =>
  a?.apiKeyId === b.apiKeyId && a.updatedAt === b.updatedAt && a.plan === b.plan && a.keyPlan === b.keyPlan;

const isWriteConflict = (error: unknown): boolean =>
  error instanceof KeyWriteConflictError || (error as { name?: unknown })?.name === 'KeyWriteConflictError';

/** False when another request changed the record first. */
async function writeUnlessConflict(write: () => Promise<void>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (isWriteConflict(error)) return false;
    throw error;
  }
}

async function writeOrConflict(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (isWriteConflict(error)) throw new ConsumerConflictError('consumer changed concurrently; retry');
    throw error;
  }
}

/** The usage plan id of a dualgate plan, or undefined for a plan no longer configured or deployed. */
async function planIdOf(context: ConsumerContext, plan: string): Promise<string | undefined> {
  const name = Object.hasOwn(context.plans.usagePlanNames, plan) ? context.plans.usagePlanNames[plan] : undefined;
  return name === undefined ? undefined : context.usagePlans.usagePlanId(name);
}

async function requirePlanId(context: ConsumerContext, plan: string): Promise<string> {
  const id = await planIdOf(context, plan);
  if (id === undefined) throw new UsagePlanUnavailableError(`usage plan of plan ${plan} not found (is the stack deployed?)`);
  return id;
}

/** Entitlements' side of a consumer, served whether or not the API has plans. */
export interface EntitlementContext {
  entitlements: EntitlementStore;
  /** `portal.defaultScopes`. */
  defaultScopes: readonly string[];
  /** The scopes a consumer may be entitled to: the app's catalog (never the admin scope). */
  catalog: ReadonlySet<string>;
  adminScope: string;
  logger: Logger;
  nowMs: () => number;
  /** Absent when the API has no plans. */
  plans?: ConsumerContext;
}

function entitlementView(context: EntitlementContext, assigned: readonly string[]) {
  return {
    scopes: [...assigned],
    defaultScopes: [...context.defaultScopes],
    entitledScopes: [...currentEntitlements(context.defaultScopes, assigned)].sort(),
  };
}

function noPlan(sub: string) {
  return { sub, plan: null, assigned: false };
}

/** GET: the plan (with today's usage) and the entitlements; to the consumer itself or an admin. */
export async function getConsumer(context: EntitlementContext, request: ConsumerRequest): Promise<APIGatewayProxyResult> {
  const sub = subOf(request);
  if (request.caller.sub !== sub && !isAdmin(request.caller, context.adminScope))
    throw new ForbiddenError(`only ${context.adminScope} holders may read another consumer`);
  const [plan, entitlements] = await Promise.all([
    context.plans ? planWithUsage(context.plans, sub) : { ...noPlan(sub), usage: null },
    context.entitlements.getEntitlementsConsistent(sub),
  ]);
  return jsonResponse(200, { ...plan, ...entitlementView(context, entitlements?.scopes ?? []) });
}

/**
 * PUT `{"plan"?, "scopes"?}` (admin): assign a plan, replace the entitlements, or both. Both fields are checked
 * (the plan's usage plan resolved) before anything is written, so a refused request changes nothing. With both, the
 * plan goes first: a failed move is undone, and leaves the entitlements as they were. Only a failure of the
 * entitlements' write after the plan landed leaves the plan changed; the same PUT again finishes the job (a
 * consumer already in that plan costs one read).
 */
export async function setConsumer(context: EntitlementContext, request: ConsumerRequest): Promise<APIGatewayProxyResult> {
  const sub = subOf(request);
  assertAdmin(context, request.caller);
  const body = request.body;
  const shape = context.plans ? '{"plan": "<name>", "scopes": ["<scope>", …]}' : '{"scopes": ["<scope>", …]}';
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError(`body: must be ${shape}`, 'body');
  const extra = Object.keys(body).filter((field) => field !== 'plan' && field !== 'scopes');
  if (extra.length > 0) throw new InvalidRequestError(`body: unknown field(s) ${extra.join(', ')}`, extra[0]);
  const { plan, scopes } = body as { plan?: unknown; scopes?: unknown };
  if (plan === undefined && scopes === undefined) throw new InvalidRequestError(`body: must be ${shape}`, 'body');
  if (plan !== undefined && !context.plans) throw new InvalidRequestError('plan: this API has no plans (set plans on DualAuthApi)', 'plan');
  const wanted = scopes === undefined ? undefined : entitlementScopes(context, scopes);
  const plans = context.plans;
  const planned = plans && plan !== undefined ? await checkPlan(plans, plan, { deployed: wanted !== undefined }) : undefined;
  const planView = plans
    ? planned !== undefined
      ? await assignPlan(plans, request.caller, sub, planned)
      : view(plans, sub, await plans.store.getConsumerConsistent(sub))
    : noPlan(sub);
  let assigned = (await context.entitlements.getEntitlementsConsistent(sub))?.scopes ?? [];
  if (wanted !== undefined) {
    await context.entitlements.putEntitlements({
      sub,
      scopes: wanted,
      updatedAt: new Date(context.nowMs()).toISOString(),
      updatedBy: request.caller.sub,
    });
    audit(context, request.caller, 'consumer.set-scopes', sub, assigned, wanted);
    assigned = wanted;
  }
  return jsonResponse(200, { ...planView, ...entitlementView(context, assigned) });
}

/**
 * DELETE (admin; idempotent): back to the default plan (plans only). Entitlements are left alone: `PUT {"scopes": []}`
 * clears them, so that clearing a plan never takes away what keys may do.
 */
export async function clearConsumer(context: EntitlementContext, request: ConsumerRequest): Promise<APIGatewayProxyResult> {
  const sub = subOf(request);
  assertAdmin(context, request.caller);
  if (!context.plans) throw new InvalidRequestError('this API has no plans to clear; PUT {"scopes": []} clears the entitlements', 'sub');
  const [planView, entitlements] = await Promise.all([
    clearPlan(context.plans, request.caller, sub),
    context.entitlements.getEntitlementsConsistent(sub),
  ]);
  return jsonResponse(200, { ...planView, ...entitlementView(context, entitlements?.scopes ?? []) });
}

/** The `scopes` field: a list of catalog scopes (never the admin scope: entitling it would make an admin), sorted. */
function entitlementScopes(context: EntitlementContext, scopes: unknown): string[] {
  if (!Array.isArray(scopes) || scopes.some((scope) => typeof scope !== 'string'))
    throw new InvalidRequestError('scopes: must be a list of scope names', 'scopes');
  if (scopes.length > MAX_ENTITLED_SCOPES)
    throw new InvalidRequestError(`scopes: at most ${MAX_ENTITLED_SCOPES} (got ${scopes.length})`, 'scopes');
  if ((scopes as string[]).includes(context.adminScope))
    throw new InvalidRequestError(`scopes: ${context.adminScope} cannot be an entitlement (it would make the consumer an admin)`, 'scopes');
  const unknown = (scopes as string[]).filter((scope) => !context.catalog.has(scope));
  if (unknown.length > 0) throw new InvalidRequestError(`scopes: unknown scope(s): ${unknown.join(', ')}`, 'scopes');
  return [...new Set(scopes as string[])].sort();
}
