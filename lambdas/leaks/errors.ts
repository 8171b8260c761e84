/**
 * Why a leak report was refused, as typed errors carrying a reason code (for logs and the `outcome` metric
 * dimension) and the HTTP status GitHub receives. Only the endpoint (endpoint.ts) turns them into responses.
 * None of them is thrown after the key table was touched: every refusal happens before a report is acted on.
 */
type LeakRejectionReason =
  | 'report_too_large'
  | 'signature_missing'
  | 'signature_malformed'
  | 'unknown_key_identifier'
  | 'bad_signature'
  | 'malformed_report'
  | 'github_keys_unavailable';

export abstract class LeakReportRejection extends Error {
  abstract readonly statusCode: number;
  constructor(
    readonly reason: LeakRejectionReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** 413: more bytes (or more tokens) than one report may hold. */
export class ReportTooLargeError extends LeakReportRejection {
  override readonly name = 'ReportTooLargeError';
  readonly statusCode = 413;
  constructor(message: string) {
    super('report_too_large', message);
  }
}

/** 401: no `Github-Public-Key-Signature` or no `Github-Public-Key-Identifier`. */
export class SignatureMissingError extends LeakReportRejection {
  override readonly name = 'SignatureMissingError';
  readonly statusCode = 401;
  constructor(header: string) {
    super('signature_missing', `the ${header} header is missing`);
  }
}

/** 400: a header that cannot be a signature or a key identifier (not base64, repeated, too long). */
export class SignatureMalformedError extends LeakReportRejection {
  override readonly name = 'SignatureMalformedError';
  readonly statusCode = 400;
  constructor(message: string) {
    super('signature_malformed', message);
  }
}

/** 403: GitHub's key document has no key with this identifier (after one refetch, when allowed). */
export class UnknownKeyIdentifierError extends LeakReportRejection {
  override readonly name = 'UnknownKeyIdentifierError';
  readonly statusCode = 403;
  constructor() {
    super('unknown_key_identifier', 'the report is signed with a key GitHub does not publish');
  }
}

/** 403: the signature does not verify over the bytes received. */
export class BadSignatureError extends LeakReportRejection {
  override readonly name = 'BadSignatureError';
  readonly statusCode = 403;
  constructor() {
    super('bad_signature', 'the signature does not match the report');
  }
}

/** 400: a correctly signed body that is not a JSON array of `{token, type, url, source}`. */
export class MalformedReportError extends LeakReportRejection {
  override readonly name = 'MalformedReportError';
  readonly statusCode = 400;
  constructor(message: string) {
    super('malformed_report', message);
  }
}

/** 503: GitHub's key document could not be fetched and none is cached: nothing can be verified, so retry later. */
export class GithubKeysUnavailableError extends LeakReportRejection {
  override readonly name = 'GithubKeysUnavailableError';
  readonly statusCode = 503;
  constructor(message: string, options?: { cause?: unknown }) {
    super('github_keys_unavailable', message, options);
  }
}
