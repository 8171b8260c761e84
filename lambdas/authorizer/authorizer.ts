/**
 * The authorizer as a plain function of its dependencies: credential extraction → the one policy that
 * may judge that credential's shape → IAM policy + context. The Lambda handler (handler.ts) and the
 * local gateway both call this, so local mode runs exactly the code that runs in AWS.
 */
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { errorFields, type Logger } from '../shared/logger';
import { toAuthorizerContext, type AuthorizerContext } from '../shared/principal';
import { classifyCredential } from './classify';
import { extractCredential } from './credential';
import { reject, type CredentialPolicy, type PolicyResult } from './decision';
import { apiStageArn, type PolicyCompiler, type PolicyDocument } from './policy-compiler';

/** What the Lambda returns to API Gateway (assignable to aws-lambda's APIGatewayAuthorizerResult). */
export interface AuthorizerResponse {
  principalId: string;
  policyDocument: PolicyDocument;
  context: AuthorizerContext;
}

export type AuthorizerOutcome =
  | { effect: 'allow'; response: AuthorizerResponse }
  /** → throw `Unauthorized` → 401. */
  | { effect: 'unauthorized' }
  /** → throw anything else → API Gateway's AUTHORIZER_FAILURE, which the stack maps to a JSON 503. */
  | { effect: 'fail' };

export interface AuthorizerDeps {
  apiKeyPolicy: CredentialPolicy;
  /** Absent when no JWT issuer is configured: every JWT is then rejected. */
  jwtPolicy?: CredentialPolicy;
  compiler: PolicyCompiler;
  logger: Logger;
}

export type AuthorizerEvent = Pick<APIGatewayRequestAuthorizerEvent, 'methodArn' | 'headers' | 'multiValueHeaders'> &
  Partial<Pick<APIGatewayRequestAuthorizerEvent, 'requestContext'>>;

export function createAuthorizer(deps: AuthorizerDeps): (event: AuthorizerEvent) => Promise<AuthorizerOutcome> {
  const { logger } = deps;

  async function judge(event: AuthorizerEvent): Promise<{ result: PolicyResult; kind: string }> {
    const extracted = extractCredential(event);
    if (!extracted.ok) return { result: reject(extracted.reason), kind: 'none' };
    const kind = classifyCredential(extracted.credential);
    if (kind === 'apiKey') return { result: await deps.apiKeyPolicy.evaluate(extracted.credential), kind };
    if (kind === 'jwt') {
      if (!deps.jwtPolicy) return { result: reject('jwt_invalid_issuer'), kind };
      return { result: await deps.jwtPolicy.evaluate(extracted.credential), kind };
    }
    return { result: reject('malformed_credential'), kind };
  }

  return async function authorize(event) {
    const requestId = event.requestContext?.requestId;
    let judged: { result: PolicyResult; kind: string };
    try {
      judged = await judge(event);
    } catch (error) {
      judged = { result: { kind: 'fail', reason: 'internal_error', error }, kind: 'unknown' };
    }
    const { result, kind } = judged;
    // Every decision logs one line with a reason code, never the credential.
    if (result.kind === 'reject') {
      logger.info('denied', { decision: 'unauthorized', reason: result.reason, credentialKind: kind, requestId });
      return { effect: 'unauthorized' };
    }
    if (result.kind === 'fail') {
      logger.error('failed closed', { decision: 'fail', reason: result.reason, credentialKind: kind, requestId, ...errorFields(result.error), ...causeFields(result.error) });
      return { effect: 'fail' };
    }
    const stageArn = apiStageArn(event.methodArn ?? '');
    if (!stageArn) {
      logger.error('failed closed', { decision: 'fail', reason: 'internal_error', detail: 'unrecognised methodArn', requestId });
      return { effect: 'fail' };
    }
    const { principal } = result;
    const level = result.reason === 'key_valid_stale' ? 'warn' : 'info';
    logger[level]('allowed', {
      decision: 'allow',
      reason: result.reason,
      sub: principal.sub,
      authMethod: principal.authMethod,
      keyId: principal.keyId,
      cached: result.cached,
      requestId,
    });
    return {
      effect: 'allow',
      response: {
        principalId: principal.sub,
        policyDocument: deps.compiler.compile(stageArn, principal.scopes),
        context: toAuthorizerContext(principal),
      },
    };
  };
}

function causeFields(error: unknown): Record<string, unknown> {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error ? { causeName: cause.name, causeMessage: cause.message.slice(0, 300) } : {};
}
