/**
 * The end-to-end benchmark's server process: local mode (dynalite, mock issuer, gateway in front of the
 * real authorizer and handlers) on free ports, a seeded API key, and an access token from the issuer's
 * token endpoint. It reports them to the parent over IPC and serves until killed. Logs go to stdout,
 * which the parent points at /dev/null: the authorizer still builds and writes every line, as in Lambda.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { startDevServer } from '../lib/local/dev-server';
import { DEFAULT_LOCAL_AUDIENCE } from '../lib/local/local-config';
import { demoAssembly } from '../test/support/prepared';
import { itemFromRecord } from '../lambdas/core/key-record';
import { newKey } from './fixtures';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOCAL_AWS } from '../lib/local/dynamo';

export interface E2eServerReady {
  gatewayUrl: string;
  apiKey: string;
  accessToken: string;
}

// What `npm run dev` serves: the demo app's assembly, its functions in workers, logs to stdout.
const server = await startDevServer({
  assemblyDir: demoAssembly(),
  gatewayPort: 0,
  issuerPort: 0,
  audience: DEFAULT_LOCAL_AUDIENCE,
  ...(process.env['DUALGATE_AUTHORIZER_CACHE_TTL_SECONDS']
    ? { authorizerCacheTtlSeconds: Number(process.env['DUALGATE_AUTHORIZER_CACHE_TTL_SECONDS']) }
    : {}),
});
const api = server.apis[0]!;

const { key, record } = newKey(api.keyPrefix);
const client = new DynamoDBClient({
  endpoint: server.dynamo.endpoint,
  region: LOCAL_AWS.region,
  credentials: { accessKeyId: LOCAL_AWS.accessKeyId, secretAccessKey: LOCAL_AWS.secretAccessKey },
});
await client.send(new PutItemCommand({ TableName: api.tableName, Item: itemFromRecord(record) }));
client.destroy();

const tokenResponse = await fetch(server.issuer.tokenUrl, {
  method: 'POST',
  headers: {
    authorization: `Basic ${Buffer.from('bench-client:secret').toString('base64')}`,
    'content-type': 'application/x-www-form-urlencoded',
  },
  body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'read:users' }).toString(),
});
if (!tokenResponse.ok) throw new Error(`token endpoint answered ${tokenResponse.status}: ${await tokenResponse.text()}`);
const { access_token: accessToken } = (await tokenResponse.json()) as { access_token: string };

const ready: E2eServerReady = { gatewayUrl: api.url, apiKey: key, accessToken };
process.send!(ready);
process.on('disconnect', () => {
  void server.stop().finally(() => process.exit(0));
});
