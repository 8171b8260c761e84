/**
 * A function's environment as local mode gives it: literal values as written, pseudo parameters with local
 * stand-ins, and every reference to something that only exists in AWS (the app's own tables, buckets,
 * secrets) replaced by a clear placeholder, listed at startup, and overridable with `--env-file`.
 */
import { readFileSync } from 'node:fs';
import { referencedId, type AssemblyFunction, type CloudAssembly } from './assembly';

const LOCAL_PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '000000000000',
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'local',
};

export interface UnresolvedVariable {
  functionId: string;
  functionPath?: string;
  variable: string;
  /** What the value references in AWS, e.g. `Ref OrdersA9B65338 (AWS::DynamoDB::Table)`. */
  references: string;
  placeholder: string;
}

export class EnvFileError extends Error {
  override readonly name = 'EnvFileError';
}

/**
 * `--env-file vars.json`, as `sam local --env-vars`: `{ "<function logical id or construct path>": { "VAR": "value" },
 * "Parameters": { "VAR": "value" } }`; `Parameters` applies to every function that has the variable.
 */
export type EnvFile = Record<string, Record<string, string>>;

export function readEnvFile(file: string): EnvFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new EnvFileError(`--env-file ${file}: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new EnvFileError(`--env-file ${file}: must be a JSON object keyed by function logical id or path`);
  for (const [key, values] of Object.entries(parsed)) {
    if (
      values === null ||
      typeof values !== 'object' ||
      Array.isArray(values) ||
      !Object.values(values).every((value) => typeof value === 'string')
    ) {
      throw new EnvFileError(`--env-file ${file}: "${key}" must map variable names to string values`);
    }
  }
  return parsed as EnvFile;
}

/** Resolve what can be resolved locally; describe the rest. */
function resolveValue(value: unknown, assembly: CloudAssembly): { value: string } | { references: string } {
  if (typeof value === 'string') return { value };
  if (typeof value === 'number' || typeof value === 'boolean') return { value: String(value) };
  const object = (value ?? {}) as Record<string, unknown>;
  if (typeof object['Ref'] === 'string' && object['Ref'] in LOCAL_PSEUDO_PARAMETERS)
    return { value: LOCAL_PSEUDO_PARAMETERS[object['Ref']] as string };
  const join = object['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    const parts = (join[1] as unknown[]).map((part) => resolveValue(part, assembly));
    const unresolved = parts.find((part): part is { references: string } => 'references' in part);
    if (unresolved) return unresolved;
    return { value: parts.map((part) => (part as { value: string }).value).join(join[0]) };
  }
  const id = referencedId(value);
  if (id) {
    const target = assembly.resources.get(id);
    const what = 'Ref' in object ? `Ref ${id}` : `GetAtt ${id}.${String((object['Fn::GetAtt'] as unknown[])[1])}`;
    return { references: `${what}${target ? ` (${target.type})` : ''}` };
  }
  return { references: JSON.stringify(value).slice(0, 120) };
}

/**
 * The environment for one function, plus the variables left unresolved. `overrides` (dualgate's own settings)
 * win over everything; then the env file's entry for the function (by logical id or path), then `Parameters`.
 */
export function functionEnvironment(
  fn: AssemblyFunction,
  assembly: CloudAssembly,
  envFile: EnvFile = {},
  overrides: Record<string, string> = {},
): { env: Record<string, string>; unresolved: UnresolvedVariable[] } {
  const env: Record<string, string> = {};
  const unresolved: UnresolvedVariable[] = [];
  const fromFile: Record<string, string> = {
    ...(envFile[fn.logicalId] ?? {}),
    ...(fn.path ? (envFile[fn.path] ?? envFile[fn.path.replace(/\/Resource$/, '')] ?? {}) : {}),
  };
  const shared = envFile['Parameters'] ?? {};
  for (const [name, raw] of Object.entries(fn.environment)) {
    if (name in overrides) continue;
    const supplied = fromFile[name] ?? shared[name];
    if (supplied !== undefined) {
      env[name] = supplied;
      continue;
    }
    const resolved = resolveValue(raw, assembly);
    if ('value' in resolved) env[name] = resolved.value;
    else {
      // Named after what it stands for (`Ref OrdersTable…` → `dualgate-local-unresolved:OrdersTable…`).
      const placeholder = `dualgate-local-unresolved:${/^(?:Ref|GetAtt) (\S+)/.exec(resolved.references)?.[1] ?? name}`;
      env[name] = placeholder;
      unresolved.push({
        functionId: fn.logicalId,
        ...(fn.path ? { functionPath: fn.path } : {}),
        variable: name,
        references: resolved.references,
        placeholder,
      });
    }
  }
  for (const [name, value] of Object.entries(fromFile)) if (!(name in env) && !(name in overrides)) env[name] = value;
  return { env: { ...env, ...overrides }, unresolved };
}
