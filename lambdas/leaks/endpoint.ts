/**
 * POST /leaks/github: GitHub's secret-scanning partner protocol, in this order, each step before the next:
 *   1. size: more than MAX_REPORT_BYTES → 413;
 *   2. headers: `Github-Public-Key-Identifier` and `Github-Public-Key-Signature`, each exactly once → else 401/400;
 *   3. the identifier's key from GitHub's key document (cached; one refetch for an unknown one) → else 403 (503 when
 *      the document cannot be had at all);
 *   4. the ECDSA P-256/SHA-256 signature over the exact bytes received → else 403;
 *   5. only then the body is parsed (400/413), and the tokens acted on (act-on-report.ts);
 *   6. 200 with GitHub's feedback array; 503 when some key could not be handled (GitHub retries; it is idempotent).
 * Steps 1-5 never touch the key table. This route is open in API Gateway (GitHub carries no dualgate credential):
 * the signature is its authentication.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { LEAK_METRICS, LEAK_REPORT_DIRECTIVE } from '../shared/emf';
import { errorResponse, jsonResponse } from '../shared/http-response';
import { errorFields } from '../shared/logger';
import { actOnReport, type ActOnReportDeps, type ReportOutcome } from './act-on-report';
import {
  BadSignatureError,
  LeakReportRejection,
  ReportTooLargeError,
  SignatureMalformedError,
  SignatureMissingError,
  UnknownKeyIdentifierError,
} from './errors';
import { identifierForLog, type GithubKeySource } from './github-keys';
import { MAX_REPORT_BYTES, parseReport } from './report';
import { decodeSignatureHeader, verifyReportSignature } from './signature';

const SIGNATURE_HEADER = 'Github-Public-Key-Signature';
const KEY_IDENTIFIER_HEADER = 'Github-Public-Key-Identifier';
const KEY_IDENTIFIER_PATTERN = /^[A-Za-z0-9._:-]{1,256}$/;

export interface LeakHandlerDeps extends ActOnReportDeps {
  githubKeys: GithubKeySource;
  maxBodyBytes?: number;
  monotonicMs?: () => number;
}

export type LeakHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

/** The request's bytes as received: API Gateway passes text bodies as a string, binary ones base64-encoded. */
function bodyBytes(event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'>): Buffer {
  if (event.body === null || event.body === undefined) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

/** Every value of a header, whatever its case (API Gateway keeps the sender's). */
function headerValues(event: Pick<APIGatewayProxyEvent, 'headers' | 'multiValueHeaders'>, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const [header, list] of Object.entries(event.multiValueHeaders ?? {}))
    if (header.toLowerCase() === wanted) values.push(...(list ?? []));
  if (values.length > 0) return values;
  for (const [header, value] of Object.entries(event.headers ?? {}))
    if (header.toLowerCase() === wanted && value !== undefined) values.push(value);
  return values;
}

function singleHeader(event: APIGatewayProxyEvent, name: string): string {
  const values = [...new Set(headerValues(event, name))];
  if (values.length === 0 || values[0] === '') throw new SignatureMissingError(name);
  if (values.length > 1) throw new SignatureMalformedError(`the ${name} header must be sent once`);
  return values[0] as string;
}

export function createLeakHandler(deps: LeakHandlerDeps): LeakHandler {
  const maxBodyBytes = deps.maxBodyBytes ?? MAX_REPORT_BYTES;
  const monotonicMs = deps.monotonicMs ?? (() => performance.now());

  const verified = async (event: APIGatewayProxyEvent): Promise<Buffer> => {
    const body = bodyBytes(event);
    if (body.length > maxBodyBytes) throw new ReportTooLargeError(`a report may hold at most ${maxBodyBytes} bytes (got ${body.length})`);
    const identifier = singleHeader(event, KEY_IDENTIFIER_HEADER);
    const signatureHeader = singleHeader(event, SIGNATURE_HEADER);
    if (!KEY_IDENTIFIER_PATTERN.test(identifier))
      throw new SignatureMalformedError(`the ${KEY_IDENTIFIER_HEADER} header is not a key identifier`);
    const signature = decodeSignatureHeader(signatureHeader);
    if (!signature) throw new SignatureMalformedError(`the ${SIGNATURE_HEADER} header is not a base64 DER signature`);
    const key = await deps.githubKeys.keyFor(identifier);
    if (!key) throw new UnknownKeyIdentifierError();
    if (!verifyReportSignature(body, signature, key.key)) throw new BadSignatureError();
    return body;
  };

  return async (event) => {
    const startedMs = monotonicMs();
    let outcome: ReportOutcome | undefined;
    let rejection: LeakReportRejection | undefined;
    let response: APIGatewayProxyResult;
    try {
      if (event.httpMethod !== 'POST') {
        response = errorResponse(405, 'POST only');
      } else {
        const body = await verified(event);
        const matches = parseReport(body);
        outcome = await actOnReport(matches, deps);
        response =
          outcome.failures > 0
            ? errorResponse(503, 'some keys could not be handled; retry the report')
            : jsonResponse(200, outcome.feedback);
      }
    } catch (error) {
      if (!(error instanceof LeakReportRejection)) {
        deps.logger.error('leak report failed', { reason: 'internal_error', ...errorFields(error) });
        response = errorResponse(500, 'internal error');
      } else {
        rejection = error;
        // Which key a refused report named helps tell a forger from a GitHub key rotation; shortened (it looks like a hash).
        const named = headerValues(event, KEY_IDENTIFIER_HEADER)[0];
        deps.logger.warn('leak report refused', {
          reason: error.reason,
          statusCode: error.statusCode,
          ...(named ? { keyIdentifier: identifierForLog(named) } : {}),
          ...errorFields(error),
        });
        response = errorResponse(error.statusCode, error.message, { reason: error.reason });
      }
    }
    const counts = outcome?.counts ?? {};
    const tokens = outcome?.feedback.length ?? 0;
    deps.logger.info(
      'leak report',
      {
        outcome: rejection?.reason ?? outcomeOf(response.statusCode),
        statusCode: response.statusCode,
        counts,
        [LEAK_METRICS.reports.name]: 1,
        [LEAK_METRICS.tokens.name]: tokens,
        [LEAK_METRICS.truePositives.name]: outcome?.feedback.filter((entry) => entry.label === 'true_positive').length ?? 0,
        [LEAK_METRICS.keysRevoked.name]: counts.revoked ?? 0,
        [LEAK_METRICS.keysMarked.name]: counts.marked ?? 0,
        [LEAK_METRICS.keyFailures.name]: outcome?.failures ?? 0,
        [LEAK_METRICS.publishFailures.name]: outcome?.publishFailures ?? 0,
        [LEAK_METRICS.latency.name]: Math.round((monotonicMs() - startedMs) * 100) / 100,
      },
      LEAK_REPORT_DIRECTIVE,
    );
    return response;
  };
}

/** The `outcome` dimension of a report that was not refused: a bounded name per answer. */
function outcomeOf(statusCode: number): string {
  if (statusCode === 200) return 'accepted';
  if (statusCode === 503) return 'key_store_unavailable';
  if (statusCode === 405) return 'method_not_allowed';
  return 'internal_error';
}
