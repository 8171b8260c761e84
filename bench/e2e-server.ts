/**
 * The end-to-end benchmark's server process: local mode (dynalite, mock issuer, gateway in front of the
 * real authorizer and handlers) on free ports, a seeded API key, and an access token from the issuer's
 * token endpoint. It reports them to the parent over IPC and serves until killed. Logs go to stdout,
 * which the parent points at /dev/null: the authorizer still builds and writes every line, as in Lambda.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { localConfigFromEnv } from '../lib/local/local-config';
import { startLocalStack } from '../lib/local/local-stack';
import { itemFromRecord } from '../lambdas/shared/key-record';
import { newKey } from './fixtures';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOCAL_AWS } from '../lib/local/dynamo';

export interface E2eServerReady {
  gatewayUrl: string;
  apiKey: string;
  accessToken: string;
}

const stack = await startLocalStack({ config: localConfigFromEnv({ ...process.env, PORT: '0', ISSUER_PORT: '0' }) });

const { key, record } = newKey(stack.config.keyPrefix);
const client = new DynamoDBClient({
  endpoint: stack.dynamoEndpoint,
  region: LOCAL_AWS.region,
  credentials: { accessKeyId: LOCAL_AWS.accessKeyId, secretAccessKey: LOCAL_AWS.secretAccessKey },
});
await client.send(new PutItemCommand({ TableName: stack.tableName, Item: itemFromRecord(record) }));
client.destroy();

const tokenResponse = await fetch(stack.tokenUrl, {
  method: 'POST',
  headers: { authorization: `Basic ${Buffer.from('bench-client:secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'read:users' }).toString(),
});
if (!tokenResponse.ok) throw new Error(`token endpoint answered ${tokenResponse.status}: ${await tokenResponse.text()}`);
const { access_token: accessToken } = (await tokenResponse.json()) as { access_token: string };

const ready: E2eServerReady = { gatewayUrl: stack.gatewayUrl, apiKey: key, accessToken };
process.send!(ready);
process.on('disconnect', () => {
  void stack.stop().finally(() => process.exit(0));
});
