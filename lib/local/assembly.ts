/**
 * Read what `cdk synth` produced (a cloud assembly: templates and assets) into what local mode serves: every
 * REST API with its methods, authorizer and gateway settings, and every Lambda function with its code on disk.
 * Local mode serves this, not a second hand-kept list, so it tests what deploys.
 */
import { PORTAL_CONFIG_VARIABLE } from '../../lambdas/portal/portal-config';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUNTIME_CONFIG_FILE, parseRuntimeRouteConfig, type RuntimeRouteConfig } from '../../lambdas/core/route-config';
import type { RouteMethod } from '../../lambdas/core/route-table';

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

interface AssemblyMethod {
  logicalId: string;
  method: RouteMethod;
  path: string;
  /** Behind the API's dualgate authorizer. */
  authorized: boolean;
  /** Authorization of its own (`AWS_IAM`, `COGNITO_USER_POOLS`, another authorizer), which local mode cannot evaluate. */
  foreignAuthorization?: string;
  integration: AssemblyIntegration;
}

interface AssemblyApi {
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
function integratedFunction(
  uri: unknown,
  resources: Readonly<Record<string, { Type: string; Properties?: Json }>> = {},
): string | undefined {
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

type TemplateResource = { Type: string; Properties?: Json; Metadata?: Json; DependsOn?: string | string[] };
interface Template {
  Resources?: Record<string, TemplateResource>;
  Parameters?: Record<string, unknown>;
  Outputs?: Record<string, { Value?: unknown }>;
}

interface StackArtifact {
  name: string;
  template: Template;
  /** Asset object key → directory in the assembly. */
  assets: Map<string, string>;
}

function readStacks(dir: string): StackArtifact[] {
  const manifestFile = join(dir, 'manifest.json');
  if (!existsSync(manifestFile))
    throw new AssemblyError(`${dir} is not a cloud assembly (no manifest.json); run cdk synth, or omit --assembly`);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
    artifacts?: Record<string, { type: string; properties?: Json; displayName?: string }>;
  };
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
    const template = JSON.parse(readFileSync(templateFile, 'utf8')) as Template;
    stacks.push({ name: String(artifact.properties?.['stackName'] ?? id), template: flattenNestedStacks(dir, template, assets), assets });
  }
  // Nested assemblies (stages) hold stacks too.
  for (const [, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type === 'cdk:cloud-assembly' && typeof artifact.properties?.['directoryName'] === 'string')
      stacks.push(...readStacks(join(dir, artifact.properties['directoryName'])));
  }
  return stacks;
}

/** The file of a nested stack's template: its asset path metadata, or the asset its TemplateURL names. */
function nestedTemplateFile(dir: string, resource: TemplateResource, assets: Map<string, string>): string | undefined {
  const assetPath = asObject(resource.Metadata)['aws:asset:path'];
  if (typeof assetPath === 'string' && existsSync(join(dir, assetPath))) return join(dir, assetPath);
  const url = asObject(resource.Properties)['TemplateURL'];
  const pieces = asObject(url)['Fn::Join'];
  const last =
    typeof url === 'string' ? url : Array.isArray(pieces) && Array.isArray(pieces[1]) ? pieces[1][pieces[1].length - 1] : undefined;
  const key = typeof last === 'string' ? last.split('/').pop() : undefined;
  const file = key ? assets.get(key) : undefined;
  return file && existsSync(file) ? file : undefined;
}

/**
 * A template with its nested stacks' resources merged in, as CloudFormation would wire them: a nested resource's id
 * gets its stack's id as a prefix (`RoutesStack.OrdersGET`), a `Ref` to a parameter becomes the value the parent
 * passes, and a parent's `Fn::GetAtt [stack, Outputs.X]` becomes that output's value. Local mode then reads one
 * API whose resources live in several templates (DualAuthApi nests a large table's routes).
 */
function flattenNestedStacks(dir: string, template: Template, assets: Map<string, string>): Template {
  const resources: Record<string, TemplateResource> = { ...(template.Resources ?? {}) };
  const outputs = new Map<string, unknown>();
  for (const [stackId, resource] of Object.entries(template.Resources ?? {})) {
    if (resource.Type !== 'AWS::CloudFormation::Stack') continue;
    const file = nestedTemplateFile(dir, resource, assets);
    if (!file) continue;
    const nested = flattenNestedStacks(dir, JSON.parse(readFileSync(file, 'utf8')) as Template, assets);
    const passed = asObject(asObject(resource.Properties)['Parameters']);
    const nestedIds = new Set(Object.keys(nested.Resources ?? {}));
    const rewrite = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(rewrite);
      if (value === null || typeof value !== 'object') return value;
      const object = value as Json;
      const ref = object['Ref'];
      if (typeof ref === 'string' && Object.keys(object).length === 1) {
        if (ref in passed) return passed[ref];
        if (nestedIds.has(ref)) return { Ref: `${stackId}.${ref}` };
      }
      const getAtt = object['Fn::GetAtt'];
      if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && nestedIds.has(getAtt[0]))
        return { 'Fn::GetAtt': [`${stackId}.${getAtt[0]}`, ...getAtt.slice(1)] };
      return Object.fromEntries(Object.entries(object).map(([key, inner]) => [key, rewrite(inner)]));
    };
    for (const [id, inner] of Object.entries(nested.Resources ?? {})) {
      const dependsOn =
        inner.DependsOn === undefined
          ? undefined
          : ([] as string[]).concat(inner.DependsOn).map((target) => (nestedIds.has(target) ? `${stackId}.${target}` : target));
      resources[`${stackId}.${id}`] = {
        ...inner,
        Properties: rewrite(inner.Properties ?? {}) as Json,
        ...(dependsOn ? { DependsOn: dependsOn } : {}),
      };
    }
    for (const [name, output] of Object.entries(nested.Outputs ?? {})) outputs.set(`${stackId}/Outputs.${name}`, rewrite(output.Value));
  }
  if (outputs.size === 0) return { ...template, Resources: resources };
  const resolveOutputs = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolveOutputs);
    if (value === null || typeof value !== 'object') return value;
    const getAtt = (value as Json)['Fn::GetAtt'];
    if (Array.isArray(getAtt) && outputs.has(`${String(getAtt[0])}/${String(getAtt[1])}`))
      return outputs.get(`${String(getAtt[0])}/${String(getAtt[1])}`);
    return Object.fromEntries(Object.entries(value as Json).map(([key, inner]) => [key, resolveOutputs(inner)]));
  };
  return {
    ...template,
    Resources: Object.fromEntries(
      Object.entries(resources).map(([id, resource]) => [
        id,
        { ...resource, Properties: resolveOutputs(resource.Properties ?? {}) as Json },
      ]),
    ),
  };
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
    // An API of the template, or one the template only adds to (imported by id: its RestApiId is a literal or a parameter).
    const apiKeys = new Set<string>();
    for (const [logicalId, resource] of Object.entries(all)) {
      if (resource.Type === 'AWS::ApiGateway::RestApi') apiKeys.add(logicalId);
      else if (resource.Type === 'AWS::ApiGateway::Method') apiKeys.add(apiKeyOf(asObject(resource.Properties)['RestApiId'], all));
    }
    for (const apiKey of apiKeys) apis.push(readApi(stack, apiKey, all, functions));
  }
  return { dir, apis, functions, resources };
}

/** Which API a resource belongs to: the RestApi its RestApiId references, or the id value itself (an imported API). */
function apiKeyOf(restApiId: unknown, all: Readonly<Record<string, TemplateResource>>): string {
  const id = referencedId(restApiId);
  if (id !== undefined && all[id]?.Type === 'AWS::ApiGateway::RestApi') return id;
  return typeof restApiId === 'string' ? restApiId : JSON.stringify(restApiId);
}

function readApi(
  stack: StackArtifact,
  apiKey: string,
  all: Readonly<Record<string, TemplateResource>>,
  functions: Map<string, AssemblyFunction>,
): AssemblyApi {
  const ofApi = Object.entries(all).filter(([, resource]) => {
    const restApiId = asObject(resource.Properties)['RestApiId'];
    return restApiId !== undefined && apiKeyOf(restApiId, all) === apiKey;
  });
  const parents = new Map<string, { parent: string | undefined; part: string }>();
  for (const [id, resource] of ofApi) {
    if (resource.Type !== 'AWS::ApiGateway::Resource') continue;
    const properties = asObject(resource.Properties);
    parents.set(id, { parent: referencedId(properties['ParentId']), part: String(properties['PathPart']) });
  }
  // A parent that is not a resource of this API is its root (`Fn::GetAtt [api, RootResourceId]`, or an imported root id).
  const pathOf = (resourceId: string | undefined): string => {
    const parts: string[] = [];
    for (let id = resourceId; id && parents.has(id); id = parents.get(id)?.parent) parts.unshift(parents.get(id)!.part);
    return `/${parts.join('/')}`;
  };
  const api: AssemblyApi = { stackName: stack.name, logicalId: apiKey, stageName: 'prod', methods: [], gatewayResponses: {} };
  const authorizers = new Map<string, { functionId: string; identitySource: string; ttlSeconds: number }>();
  for (const [id, resource] of ofApi) {
    const properties = asObject(resource.Properties);
    if (resource.Type === 'AWS::ApiGateway::Stage' && typeof properties['StageName'] === 'string') api.stageName = properties['StageName'];
    // An imported API's stage is the one dualgate's deployment updates.
    if (resource.Type === 'AWS::ApiGateway::Deployment' && typeof properties['StageName'] === 'string')
      api.stageName = properties['StageName'];
    if (resource.Type === 'AWS::ApiGateway::Authorizer') {
      const functionId = integratedFunction(properties['AuthorizerUri'], all);
      if (functionId)
        authorizers.set(id, {
          functionId,
          identitySource: String(properties['IdentitySource'] ?? ''),
          ttlSeconds: typeof properties['AuthorizerResultTtlInSeconds'] === 'number' ? properties['AuthorizerResultTtlInSeconds'] : 300,
        });
    }
    if (resource.Type === 'AWS::ApiGateway::GatewayResponse') {
      const template = asObject(properties['ResponseTemplates'])['application/json'];
      const statusCode = Number(properties['StatusCode']);
      api.gatewayResponses[String(properties['ResponseType'])] = {
        ...(Number.isInteger(statusCode) ? { statusCode } : {}),
        ...(typeof template === 'string' ? { template } : {}),
      };
    }
  }
  // The API's dualgate authorizer: the one whose function carries a route table (else the last Lambda authorizer).
  const dualgateAuthorizer =
    [...authorizers].find(([, authorizer]) => functions.get(authorizer.functionId)?.dualgateConfig) ?? [...authorizers].pop();
  if (dualgateAuthorizer) {
    api.authorizer = dualgateAuthorizer[1];
    const fn = functions.get(dualgateAuthorizer[1].functionId);
    if (fn) fn.dualgateRole = 'authorizer';
  }
  for (const [id, resource] of ofApi) {
    if (resource.Type !== 'AWS::ApiGateway::Method') continue;
    const properties = asObject(resource.Properties);
    const resourceId = referencedId(properties['ResourceId']);
    const path = resourceId !== undefined && parents.has(resourceId) ? pathOf(resourceId) : '/';
    const authorizationType = String(properties['AuthorizationType'] ?? 'NONE');
    const authorizerId = referencedId(properties['AuthorizerId']);
    const authorized = authorizationType === 'CUSTOM' && (authorizerId === undefined || authorizerId === dualgateAuthorizer?.[0]);
    const foreign =
      authorizationType !== 'NONE' && !authorized
        ? authorizationType === 'CUSTOM'
          ? `authorizer ${authorizerId ?? JSON.stringify(properties['AuthorizerId'])}`
          : authorizationType
        : undefined;
    const integration = readIntegration(asObject(properties['Integration']), functions, all);
    api.methods.push({
      logicalId: id,
      method: String(properties['HttpMethod']) as RouteMethod,
      path,
      authorized,
      ...(foreign ? { foreignAuthorization: foreign } : {}),
      // Local mode cannot check SigV4, a Cognito user pool's tokens or another authorizer's decision: such a method is
      // listed and answered 501, never served open.
      integration: foreign
        ? { kind: 'unsupported', description: `its own authorization (${foreign}), which local mode does not evaluate: call it on AWS` }
        : integration,
    });
  }
  for (const method of api.methods) {
    if (method.integration.kind !== 'lambda') continue;
    const fn = functions.get(method.integration.functionId);
    if (fn && !fn.dualgateRole && 'DUALGATE_KEY_TABLE' in fn.environment)
      fn.dualgateRole = 'DUALGATE_GITHUB_KEYS_URL' in fn.environment ? 'leaks' : 'keys';
    if (fn && !fn.dualgateRole && PORTAL_CONFIG_VARIABLE in fn.environment) fn.dualgateRole = 'portal';
  }
  return api;
}

function readIntegration(
  integration: Json,
  functions: Map<string, AssemblyFunction>,
  resources: Readonly<Record<string, TemplateResource>>,
): AssemblyIntegration {
  const type = String(integration['Type'] ?? '');
  if (type === 'AWS_PROXY') {
    const functionId = integratedFunction(integration['Uri'], resources);
    if (!functionId) return { kind: 'unsupported', description: 'a Lambda function outside this app (imported by ARN)' };
    const fn = functions.get(functionId);
    if (!fn?.runtime.startsWith('nodejs'))
      return {
        kind: 'unsupported',
        description: `function ${functionId} (${fn?.runtime || 'unknown runtime'}): only Node.js runtimes run locally`,
      };
    if (!fn.codeDir && fn.inlineCode === undefined)
      return { kind: 'unsupported', description: `function ${functionId}: its code is not an asset of this assembly` };
    return { kind: 'lambda', functionId };
  }
  if (type === 'HTTP_PROXY' && typeof integration['Uri'] === 'string')
    return { kind: 'http', uri: integration['Uri'], httpMethod: String(integration['IntegrationHttpMethod'] ?? 'ANY') };
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
  return {
    kind: 'unsupported',
    description: `a ${type || 'unknown'} integration (${JSON.stringify(integration['Uri'] ?? '').slice(0, 80)})`,
  };
}
