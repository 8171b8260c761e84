/**
 * Read what `cdk synth` produced (a cloud assembly: templates and assets) into what local mode serves: every
 * REST API with its methods, authorizer and gateway settings, and every Lambda function with its code on disk.
 * Local mode serves this, not a second hand-kept list, so it tests what deploys.
 */
import { PORTAL_CONFIG_VARIABLE } from '../../lambdas/portal/portal-config';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUNTIME_CONFIG_FILE, parseRuntimeRouteConfig, type RuntimeRouteConfig } from '../../lambdas/shared/route-config';
import type { RouteMethod } from '../../lambdas/shared/route-table';

type Json = Record<string, unknown>;

export class AssemblyError extends Error {
  override readonly name = 'AssemblyError';
}

/** A Lambda function of the app (or dualgate's own), as the template and the asset describe it. */
export interface AssemblyFunction {
  logicalId: string;
  /** The construct path (`OrdersApp/OrdersReader/Resource`) when the assembly records it. */
  path?: string;
  runtime: string;
  handler: string;
  /** The unzipped code directory, or undefined for inline code (then `inlineCode`). */
  codeDir?: string;
  inlineCode?: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** Environment values as written in the template: strings, or CloudFormation intrinsics. */
  environment: Record<string, unknown>;
  /** The route table a dualgate authorizer or key API carries beside its bundle. */
  dualgateConfig?: RuntimeRouteConfig;
  /** `authorizer`, `keys` or `leaks` for dualgate's own functions (they read DUALGATE_KEY_TABLE). */
  dualgateRole?: 'authorizer' | 'keys' | 'leaks' | 'portal';
}

export type AssemblyIntegration =
  | { kind: 'lambda'; functionId: string }
  | { kind: 'http'; uri: string; httpMethod: string }
  | { kind: 'mock'; statusCode: number; body: string; headers: Record<string, string> }
  | { kind: 'unsupported'; description: string };

export interface AssemblyMethod {
  logicalId: string;
  method: RouteMethod;
  path: string;
  authorized: boolean;
  integration: AssemblyIntegration;
}

export interface AssemblyApi {
  stackName: string;
  logicalId: string;
  stageName: string;
  methods: AssemblyMethod[];
  authorizer?: { functionId: string; identitySource: string; ttlSeconds: number };
  /** Gateway responses by type: status code (when set) and JSON template. */
  gatewayResponses: Record<string, { statusCode?: number; template?: string }>;
}

export interface CloudAssembly {
  dir: string;
  apis: AssemblyApi[];
  functions: Map<string, AssemblyFunction>;
  /** Resources by logical id, for describing what an unresolved reference points at. */
  resources: Map<string, { type: string; stackName: string }>;
}

const asObject = (value: unknown): Json => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {});

/** The logical id a `{Ref}` or `{Fn::GetAtt}` points at, if the value is one. */
export function referencedId(value: unknown): string | undefined {
  const object = asObject(value);
  if (typeof object['Ref'] === 'string') return object['Ref'];
  const getAtt = object['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return undefined;
}

/**
 * The function a Lambda URI (`…:lambda:path/2015-03-31/functions/<arn>/invocations`) calls: a version or an alias
 * of a function in the template (dualgate's authorizer calls a published version) stands for that function.
 */
function integratedFunction(uri: unknown, resources: Readonly<Record<string, { Type: string; Properties?: Json }>> = {}): string | undefined {
  const parts = asObject(uri)['Fn::Join'];
  if (!Array.isArray(parts) || !Array.isArray(parts[1])) return undefined;
  const pieces = parts[1] as unknown[];
  const index = pieces.findIndex((piece) => typeof piece === 'string' && piece.endsWith(':lambda:path/2015-03-31/functions/'));
  let id = index >= 0 ? referencedId(pieces[index + 1]) : undefined;
  for (let hops = 0; id !== undefined && hops < 2; hops++) {
    const resource = resources[id];
    if (resource?.Type !== 'AWS::Lambda::Version' && resource?.Type !== 'AWS::Lambda::Alias') break;
    id = referencedId(asObject(resource.Properties)['FunctionName']);
  }
  return id;
}

interface StackArtifact {
  name: string;
  template: { Resources?: Record<string, { Type: string; Properties?: Json; Metadata?: Json }> };
  /** Asset object key → directory in the assembly. */
  assets: Map<string, string>;
}

function readStacks(dir: string): StackArtifact[] {
  const manifestFile = join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) throw new AssemblyError(`${dir} is not a cloud assembly (no manifest.json); run cdk synth, or omit --assembly`);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { artifacts?: Record<string, { type: string; properties?: Json; displayName?: string }> };
  const stacks: StackArtifact[] = [];
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack') continue;
    const templateFile = join(dir, String(artifact.properties?.['templateFile'] ?? `${id}.template.json`));
    const assets = new Map<string, string>();
    const assetsFile = join(dir, `${id}.assets.json`);
    if (existsSync(assetsFile)) {
      const files = asObject(asObject(JSON.parse(readFileSync(assetsFile, 'utf8')))['files']);
      for (const entry of Object.values(files)) {
        const source = asObject(asObject(entry)['source']);
        for (const destination of Object.values(asObject(asObject(entry)['destinations']))) {
          const key = asObject(destination)['objectKey'];
          if (typeof key === 'string' && typeof source['path'] === 'string') assets.set(key, join(dir, source['path']));
        }
      }
    }
    stacks.push({ name: String(artifact.properties?.['stackName'] ?? id), template: JSON.parse(readFileSync(templateFile, 'utf8')), assets });
  }
  // Nested assemblies (stages) hold stacks too.
  for (const [, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type === 'cdk:cloud-assembly' && typeof artifact.properties?.['directoryName'] === 'string') stacks.push(...readStacks(join(dir, artifact.properties['directoryName'])));
  }
  return stacks;
}

const positiveNumber = (value: unknown, fallback: number) => (typeof value === 'number' && value > 0 ? value : fallback);

export function readCloudAssembly(dir: string, options: { stack?: string } = {}): CloudAssembly {
  let stacks = readStacks(dir);
  if (options.stack) {
    stacks = stacks.filter((stack) => stack.name === options.stack);
    if (stacks.length === 0) throw new AssemblyError(`no stack named ${options.stack} in ${dir}`);
  }
  const functions = new Map<string, AssemblyFunction>();
  const resources = new Map<string, { type: string; stackName: string }>();
  const apis: AssemblyApi[] = [];
  for (const stack of stacks) {
    const all = stack.template.Resources ?? {};
    for (const [logicalId, resource] of Object.entries(all)) resources.set(logicalId, { type: resource.Type, stackName: stack.name });
    for (const [logicalId, resource] of Object.entries(all)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const properties = asObject(resource.Properties);
      const code = asObject(properties['Code']);
      const environment = asObject(asObject(properties['Environment'])['Variables']);
      const fn: AssemblyFunction = {
        logicalId,
        runtime: String(properties['Runtime'] ?? ''),
        handler: String(properties['Handler'] ?? ''),
        timeoutSeconds: positiveNumber(properties['Timeout'], 3),
        memoryMb: positiveNumber(properties['MemorySize'], 128),
        environment,
      };
      const path = asObject(resource.Metadata)['aws:cdk:path'];
      if (typeof path === 'string') fn.path = path;
      if (typeof code['ZipFile'] === 'string') fn.inlineCode = code['ZipFile'];
      else if (typeof code['S3Key'] === 'string' && stack.assets.has(code['S3Key'])) fn.codeDir = stack.assets.get(code['S3Key']);
      if (fn.codeDir && existsSync(join(fn.codeDir, RUNTIME_CONFIG_FILE))) {
        fn.dualgateConfig = parseRuntimeRouteConfig(JSON.parse(readFileSync(join(fn.codeDir, RUNTIME_CONFIG_FILE), 'utf8')));
      }
      functions.set(logicalId, fn);
    }
    for (const [apiId, api] of Object.entries(all)) {
      if (api.Type !== 'AWS::ApiGateway::RestApi') continue;
      apis.push(readApi(stack, apiId, all, functions));
    }
  }
  return { dir, apis, functions, resources };
}

function readApi(stack: StackArtifact, apiId: string, all: NonNullable<StackArtifact['template']['Resources']>, functions: Map<string, AssemblyFunction>): AssemblyApi {
  const ofApi = Object.entries(all).filter(([, resource]) => referencedId(asObject(resource.Properties)['RestApiId']) === apiId);
  const parents = new Map<string, { parent: string | undefined; part: string }>();
  for (const [id, resource] of ofApi) {
    if (resource.Type !== 'AWS::ApiGateway::Resource') continue;
    const properties = asObject(resource.Properties);
    parents.set(id, { parent: referencedId(properties['ParentId']) === apiId ? undefined : referencedId(properties['ParentId']), part: String(properties['PathPart']) });
  }
  const pathOf = (resourceId: string | undefined): string => {
    const parts: string[] = [];
    for (let id = resourceId; id && parents.has(id); id = parents.get(id)?.parent) parts.unshift(parents.get(id)!.part);
    return `/${parts.join('/')}`;
  };
  const api: AssemblyApi = { stackName: stack.name, logicalId: apiId, stageName: 'prod', methods: [], gatewayResponses: {} };
  for (const [id, resource] of ofApi) {
    const properties = asObject(resource.Properties);
    if (resource.Type === 'AWS::ApiGateway::Stage' && typeof properties['StageName'] === 'string') api.stageName = properties['StageName'];
    if (resource.Type === 'AWS::ApiGateway::Authorizer') {
      const functionId = integratedFunction(properties['AuthorizerUri'], all);
      if (functionId) {
        api.authorizer = { functionId, identitySource: String(properties['IdentitySource'] ?? ''), ttlSeconds: typeof properties['AuthorizerResultTtlInSeconds'] === 'number' ? properties['AuthorizerResultTtlInSeconds'] : 300 };
        const fn = functions.get(functionId);
        if (fn) fn.dualgateRole = 'authorizer';
      }
    }
    if (resource.Type === 'AWS::ApiGateway::GatewayResponse') {
      const template = asObject(properties['ResponseTemplates'])['application/json'];
      const statusCode = Number(properties['StatusCode']);
      api.gatewayResponses[String(properties['ResponseType'])] = { ...(Number.isInteger(statusCode) ? { statusCode } : {}), ...(typeof template === 'string' ? { template } : {}) };
    }
    if (resource.Type !== 'AWS::ApiGateway::Method') continue;
    const resourceId = referencedId(properties['ResourceId']);
    // The root resource is `Fn::GetAtt [api, RootResourceId]`.
    const path = resourceId === apiId ? '/' : pathOf(resourceId);
    api.methods.push({
      logicalId: id,
      method: String(properties['HttpMethod']) as RouteMethod,
      path,
      authorized: properties['AuthorizationType'] === 'CUSTOM',
      integration: readIntegration(asObject(properties['Integration']), functions, all),
    });
  }
  for (const method of api.methods) {
    if (method.integration.kind !== 'lambda') continue;
    const fn = functions.get(method.integration.functionId);
    if (fn && !fn.dualgateRole && 'DUALGATE_KEY_TABLE' in fn.environment) fn.dualgateRole = 'DUALGATE_GITHUB_KEYS_URL' in fn.environment ? 'leaks' : 'keys';
    if (fn && !fn.dualgateRole && PORTAL_CONFIG_VARIABLE in fn.environment) fn.dualgateRole = 'portal';
  }
  return api;
}

function readIntegration(integration: Json, functions: Map<string, AssemblyFunction>, resources: NonNullable<StackArtifact['template']['Resources']>): AssemblyIntegration {
  const type = String(integration['Type'] ?? '');
  if (type === 'AWS_PROXY') {
    const functionId = integratedFunction(integration['Uri'], resources);
    if (!functionId) return { kind: 'unsupported', description: 'a Lambda function outside this app (imported by ARN)' };
    const fn = functions.get(functionId);
    if (!fn || !fn.runtime.startsWith('nodejs')) return { kind: 'unsupported', description: `function ${functionId} (${fn?.runtime || 'unknown runtime'}): only Node.js runtimes run locally` };
    if (!fn.codeDir && fn.inlineCode === undefined) return { kind: 'unsupported', description: `function ${functionId}: its code is not an asset of this assembly` };
    return { kind: 'lambda', functionId };
  }
  if (type === 'HTTP_PROXY' && typeof integration['Uri'] === 'string') return { kind: 'http', uri: integration['Uri'], httpMethod: String(integration['IntegrationHttpMethod'] ?? 'ANY') };
  if (type === 'MOCK') {
    const responses = Array.isArray(integration['IntegrationResponses']) ? (integration['IntegrationResponses'] as Json[]) : [];
    // The default response: no selection pattern (or an empty one), else the first.
    const chosen = responses.find((response) => !response['SelectionPattern']) ?? responses[0] ?? {};
    const template = asObject(chosen['ResponseTemplates'])['application/json'];
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(asObject(chosen['ResponseParameters']))) {
      const header = /^method\.response\.header\.(.+)$/.exec(name)?.[1];
      if (header && typeof value === 'string' && /^'.*'$/.test(value)) headers[header.toLowerCase()] = value.slice(1, -1);
    }
    return { kind: 'mock', statusCode: Number(chosen['StatusCode'] ?? 200), body: typeof template === 'string' ? template : '', headers };
  }
  return { kind: 'unsupported', description: `a ${type || 'unknown'} integration (${JSON.stringify(integration['Uri'] ?? '').slice(0, 80)})` };
}
