/**
 * The management API's expected failures, as typed errors carrying an HTTP status and, where one is to blame,
 * the request field. Only the router turns them into responses; operations throw them.
 */
export abstract class KeyApiError extends Error {
  abstract readonly statusCode: number;
  constructor(
    message: string,
    /** The body field, query parameter or path parameter at fault, echoed to the client. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** 400: malformed, wrongly typed, unknown or out-of-range input. */
export class InvalidRequestError extends KeyApiError {
  override readonly name = 'InvalidRequestError';
  readonly statusCode = 400;
}

/**
 * 403, for every refusal of an authenticated caller: more scopes than it holds, another owner's keys or consumer,
 * a route scope it lacks, or an API key that is not (or no longer) active.
 */
export class ForbiddenError extends KeyApiError {
  override readonly name = 'ForbiddenError';
  readonly statusCode = 403;
}

/** 404: no such key, or a key of another owner; the same answer for both, so ids leak nothing. */
export class KeyNotFoundError extends KeyApiError {
  override readonly name = 'KeyNotFoundError';
  readonly statusCode = 404;
  constructor() {
    super('key not found');
  }
}

export type KeyConflictReason = 'key_revoked' | 'key_expired' | 'key_rotated' | 'concurrent_change';

/** 409: the key's state forbids the operation, or a concurrent change won. */
export class KeyConflictError extends KeyApiError {
  override readonly name = 'KeyConflictError';
  readonly statusCode = 409;
  constructor(
    readonly reason: KeyConflictReason,
    message: string,
  ) {
    super(message);
  }
}

/** 404: a method/resource pair the route table does not give this Lambda (a wiring bug or a direct invoke). */
export class RouteNotFoundError extends KeyApiError {
  override readonly name = 'RouteNotFoundError';
  readonly statusCode = 404;
  constructor() {
    super('no such route');
  }
}
