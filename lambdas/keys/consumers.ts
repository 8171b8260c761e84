/**
 * Plans: `/consumers/{sub}`. PUT assigns a plan (admin), DELETE clears it (admin), GET shows the plan and today's
 * usage to the consumer itself or an admin. A consumer with a plan has its own API Gateway key, created here and
 * moved between the plans' usage plans; the authorizer returns its value as `usageIdentifierKey`.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { z } from 'zod';
import type { ConsumerStore } from '../shared/consumer-store';
import { jsonResponse } from '../shared/http-response';
import type { Logger } from '../shared/logger';
import { CONSUMER_SUB_PATTERN, type ConsumerRecord, type RuntimePlans } from '../shared/plans';
import type { CallerIdentity } from '../shared/principal';
import { InvalidRequestError, KeyApiError, ScopeEscalationError } from './errors';
import { isAdmin } from './scopes';
import { UsageKeyLimitError, UsagePlanUnavailableError, type UsagePlanGateway } from './usage-plan-gateway';

/** The documented shapes (lib/keys-openapi.ts); the handler checks the body by hand to name the field at fault. */
export const setPlanBodySchema = z.object({ plan: z.string().describe('one of the configured plans') }).strict();
export const consumerSchema = z.object({
  sub: z.string(),
  plan: z.string().nullable().describe('the assigned plan, or defaultPlan (null without one) when none is assigned'),
  assigned: z.boolean().describe('true when the consumer has a plan (and a bucket) of its own'),
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

/** 409: no API key left (API Gateway's 10,000 per account and Region), or a concurrent change of the same consumer. */
export class ConsumerConflictError extends KeyApiError {
  override readonly name = 'ConsumerConflictError';
  readonly statusCode = 409;
}

function subOf(request: ConsumerRequest): string {
  const sub = request.sub;
  if (sub === undefined || !CONSUMER_SUB_PATTERN.test(sub)) throw new InvalidRequestError('sub: must be 1 to 256 characters without control characters', 'sub');
  return sub;
}

function assertAdmin(context: ConsumerContext, caller: CallerIdentity): void {
  if (!isAdmin(caller, context.adminScope)) throw new ScopeEscalationError(`only holders of ${context.adminScope} may change a consumer's plan`);
}

function view(context: ConsumerContext, sub: string, record: ConsumerRecord | undefined) {
  const assigned = record?.plan !== undefined;
  return { sub, plan: assigned ? record?.plan : (context.plans.defaultPlan ?? null), assigned };
}

function audit(context: ConsumerContext, caller: CallerIdentity, action: 'consumer.set-plan' | 'consumer.clear-plan', sub: string, before: string | null, after: string | null): void {
  context.logger.info('audit', {
    action,
    actorSub: caller.sub,
    authMethod: caller.authMethod,
    ...(caller.keyId !== undefined ? { actorKeyId: caller.keyId } : {}),
    sub,
    changes: { plan: { before, after } },
    time: new Date(context.nowMs()).toISOString(),
  });
}

/** GET: the plan and, for a consumer with a plan of its own, today's count and what is left of the quota. */
export async function getConsumer(context: ConsumerContext, request: ConsumerRequest): Promise<APIGatewayProxyResult> {
  const sub = subOf(request);
  if (request.caller.sub !== sub && !isAdmin(request.caller, context.adminScope)) throw new ScopeEscalationError(`only ${context.adminScope} holders may read another consumer`);
  const record = await context.store.getConsumerConsistent(sub);
  const shown = view(context, sub, record);
  if (!record || record.plan === undefined) return jsonResponse(200, { ...shown, usage: null });
  const usagePlanId = await planIdOf(context, record.keyPlan);
  const date = new Date(context.nowMs()).toISOString().slice(0, 10);
  const usage = usagePlanId === undefined ? null : { date, ...(await context.usagePlans.usageOn(usagePlanId, record.apiKeyId, date)) };
  return jsonResponse(200, { ...shown, usage });
}

/** PUT `{"plan": "<name>"}`: give the consumer its own key in that plan's usage plan (or move the one it has). */
export async function setConsumerPlan(context: ConsumerContext, request: ConsumerRequest): Promise<APIGatewayProxyResult> {
  const sub = subOf(request);
  assertAdmin(context, request.caller);
  const body = request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('body: must be {"plan": "<name>"}', 'body');
  const extra = Object.keys(body).filter((field) => field !== 'plan');
  if (extra.length > 0) throw new InvalidRequestError(`body: unknown field(s) ${extra.join(', ')}`, extra[0]);
  const plan = (body as { plan?: unknown }).plan;
  if (typeof plan !== 'string' || !Object.hasOwn(context.plans.usagePlanNames, plan)) {
    throw new InvalidRequestError(`plan: must be one of ${Object.keys(context.plans.usagePlanNames).join(', ')} (got ${JSON.stringify(plan)})`, 'plan');
  }
  const existing = await context.store.getConsumerConsistent(sub);
  const before = existing?.plan ?? null;
  if (existing?.plan === plan) return jsonResponse(200, view(context, sub, existing));
  const usagePlanId = await requirePlanId(context, plan);
  const stamp = { updatedAt: new Date(context.nowMs()).toISOString(), updatedBy: request.caller.sub };
  let next: ConsumerRecord;
  if (existing) {
    next = { ...existing, plan, keyPlan: plan, ...stamp };
    if (existing.keyPlan !== plan) await moveKey(context, existing.apiKeyId, existing.keyPlan, plan);
    await writeOrConflict(() => context.store.putConsumer(next, existing));
  } else {
    let key: { id: string; value: string };
    try {
      key = await context.usagePlans.createUsageKey(sub);
    } catch (error) {
      if (error instanceof UsageKeyLimitError) throw new ConsumerConflictError(`${error.message}; clear another consumer's plan or use defaultPlan for consumers without one`);
      throw error;
    }
    next = { sub, plan, keyPlan: plan, apiKeyId: key.id, apiKeyValue: key.value, ...stamp };
    // Key in its usage plan before the record names it: the authorizer never hands out a key that is in no plan.
    await context.usagePlans.addToPlan(usagePlanId, key.id);
    await writeOrConflict(() => context.store.putConsumer(next, undefined));
  }
  audit(context, request.caller, 'consumer.set-plan', sub, before, plan);
  return jsonResponse(200, view(context, sub, next));
}

/** DELETE: back to the default (the shared key). Idempotent. */
export async function clearConsumerPlan(context: ConsumerContext, request: ConsumerRequest): Promise<APIGatewayProxyResult> {
  const sub = subOf(request);
  assertAdmin(context, request.caller);
  const existing = await context.store.getConsumerConsistent(sub);
  if (!existing || existing.plan === undefined) return jsonResponse(200, view(context, sub, existing));
  const { plan: before, ...rest } = existing;
  const next: ConsumerRecord = { ...rest, updatedAt: new Date(context.nowMs()).toISOString(), updatedBy: request.caller.sub };
  await writeOrConflict(() => context.store.putConsumer(next, existing));
  audit(context, request.caller, 'consumer.clear-plan', sub, before, null);
  return jsonResponse(200, view(context, sub, next));
}

/** API Gateway keeps a key in one usage plan per stage: leave the old plan, join the new one, and go back if that fails. */
async function moveKey(context: ConsumerContext, keyId: string, fromPlan: string, toPlan: string): Promise<void> {
  // A plan removed from the config since: its usage plan is gone, and with it the key's membership.
  const from = await planIdOf(context, fromPlan);
  const to = await requirePlanId(context, toPlan);
  if (from !== undefined) await context.usagePlans.removeFromPlan(from, keyId);
  try {
    await context.usagePlans.addToPlan(to, keyId);
  } catch (error) {
    if (from !== undefined) await context.usagePlans.addToPlan(from, keyId).catch(() => undefined);
    throw error;
  }
}

async function writeOrConflict(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if ((error as { name?: unknown })?.name === 'KeyWriteConflictError') throw new ConsumerConflictError('consumer changed concurrently; retry');
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
