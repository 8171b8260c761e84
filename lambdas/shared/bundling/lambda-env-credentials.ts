/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundles only (an esbuild alias set in
 * lib/build/bundling.ts). In Lambda the execution role's credentials are always in the environment, so the
 * SDK's default chain (SSO, ini files, web identity with a nested STS client, IMDS…) is ~95 KB of code
 * that is parsed at every cold start and never used. Tests and local mode use the real chain.
 */
export function defaultProvider() {
  return async () => {
    const accessKeyId = process.env['AWS_ACCESS_KEY_ID'];
    const secretAccessKey = process.env['AWS_SECRET_ACCESS_KEY'];
    if (!accessKeyId || !secretAccessKey) {
      throw Object.assign(new Error('no AWS credentials in the environment (expected inside Lambda)'), {
        name: 'CredentialsProviderError',
        tryNextLink: false,
      });
    }
    const sessionToken = process.env['AWS_SESSION_TOKEN'];
    return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  };
}

/** Re-exported names of the real module that client-dynamodb may import. */
export const credentialsWillNeedRefresh = () => false;
export const credentialsTreatedAsExpired = () => false;
