/**
 * The key store's infrastructure failure, in a module of its own without the AWS SDK: the authorizer's init
 * code names it while the SDK itself loads only when a key first needs the table (lambdas/authorizer/on-demand-key-table.ts).
 */
export class KeyStoreUnavailableError extends Error {
  override readonly name = 'KeyStoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
