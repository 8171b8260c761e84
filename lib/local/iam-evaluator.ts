/**
 * The part of IAM policy evaluation API Gateway applies to a Lambda authorizer's policy: does this policy
 * allow `execute-api:Invoke` on this request's method ARN? Pure, so its rules are unit-tested directly.
 *
 * The rules (IAM's evaluation logic, restricted to what an authorizer policy may contain):
 * - an explicit Deny that matches wins over any Allow;
 * - otherwise an Allow that matches allows;
 * - otherwise the request is implicitly denied (API Gateway answers 403 either way).
 * A statement matches when one of its Actions matches `execute-api:Invoke` and one of its Resources
 * matches the method ARN, with IAM's `*` and `?` wildcards (case-sensitive for resources, case-insensitive
 * for actions, as in IAM).
 */
import { iamPatternMatches } from '../../lambdas/core/policy-compiler';

type PolicyVerdict =
  | { decision: 'allow' }
  | { decision: 'explicit_deny' }
  | { decision: 'implicit_deny' }
  /** The document is not a policy API Gateway would accept: it answers 500 AUTHORIZER_CONFIGURATION_ERROR. */
  | { decision: 'invalid'; problem: string };

const INVOKE_ACTION = 'execute-api:invoke';

interface ParsedStatement {
  effect: 'Allow' | 'Deny';
  actions: string[];
  resources: string[];
}

function stringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value as string[];
  return undefined;
}

function parseStatement(raw: unknown, index: number): ParsedStatement | string {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return `Statement[${index}] is not an object`;
  const statement = raw as Record<string, unknown>;
  const effect = statement['Effect'];
  if (effect !== 'Allow' && effect !== 'Deny') return `Statement[${index}].Effect must be Allow or Deny`;
  // NotAction/NotResource would invert matching; an authorizer has no reason to send them, so refuse rather than guess.
  if ('NotAction' in statement || 'NotResource' in statement)
    return `Statement[${index}] uses NotAction/NotResource, which the local gateway does not evaluate`;
  const actions = stringList(statement['Action']);
  if (!actions) return `Statement[${index}].Action must be a string or a list of strings`;
  const resources = stringList(statement['Resource']);
  if (!resources) return `Statement[${index}].Resource must be a string or a list of strings`;
  return { effect, actions, resources };
}

function statementMatches(statement: ParsedStatement, methodArn: string): boolean {
  const actionMatches = statement.actions.some((action) => iamPatternMatches(action.toLowerCase(), INVOKE_ACTION));
  return actionMatches && statement.resources.some((resource) => iamPatternMatches(resource, methodArn));
}

/** Evaluate an authorizer's `policyDocument` against one method ARN. Never throws. */
export function evaluatePolicy(policyDocument: unknown, methodArn: string): PolicyVerdict {
  if (policyDocument === null || typeof policyDocument !== 'object' || Array.isArray(policyDocument)) {
    return { decision: 'invalid', problem: 'policyDocument is not an object' };
  }
  const rawStatements = (policyDocument as Record<string, unknown>)['Statement'];
  // IAM accepts a single statement object as well as a list.
  const list: unknown[] = Array.isArray(rawStatements) ? rawStatements : rawStatements === undefined ? [] : [rawStatements];
  const statements: ParsedStatement[] = [];
  for (const [index, raw] of list.entries()) {
    const parsed = parseStatement(raw, index);
    if (typeof parsed === 'string') return { decision: 'invalid', problem: parsed };
    statements.push(parsed);
  }
  const matching = statements.filter((statement) => statementMatches(statement, methodArn));
  if (matching.some((statement) => statement.effect === 'Deny')) return { decision: 'explicit_deny' };
  if (matching.some((statement) => statement.effect === 'Allow')) return { decision: 'allow' };
  return { decision: 'implicit_deny' };
}

/** `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path without its leading slash>`, as API Gateway builds it. */
export function methodArnFor(
  where: { region: string; accountId: string; apiId: string; stageName: string },
  method: string,
  path: string,
): string {
  return `arn:aws:execute-api:${where.region}:${where.accountId}:${where.apiId}/${where.stageName}/${method}/${path.replace(/^\//, '')}`;
}
