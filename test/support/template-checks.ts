/**
 * Structural checks of a synthesized cloud assembly, nested stacks included, that hold without cfn-lint: each
 * template within CloudFormation's limits (500 resources, 1 MB), every Ref / Fn::GetAtt / Fn::Sub / DependsOn naming
 * something the template has, and every nested stack given exactly the parameters its template declares.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** CloudFormation's quotas: resources per template, and the size of a template read from S3. */
export const MAX_RESOURCES_PER_TEMPLATE = 500;
export const MAX_TEMPLATE_BYTES = 1024 * 1024;

type Json = Record<string, unknown>;
interface Template {
  Parameters?: Record<string, { Default?: unknown }>;
  Resources?: Record<string, { Type: string; Properties?: Json; Metadata?: Json; DependsOn?: string | string[]; Condition?: string }>;
  Conditions?: Record<string, unknown>;
  Outputs?: Record<string, unknown>;
}

export interface TemplateFigures {
  file: string;
  resources: number;
  bytes: number;
  nested: boolean;
}

/** Every template file of an assembly (top-level and `*.nested.template.json`). */
export function assemblyTemplates(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.template.json'))
    .map((name) => join(dir, name))
    .sort();
}

const asObject = (value: unknown): Json => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {});

/** The names a value refers to: Ref, Fn::GetAtt's resource and Fn::Sub's `${Name}` / `${Name.Attr}`. */
function references(value: unknown, found: { refs: Set<string>; getAtts: Set<string> }): void {
  if (Array.isArray(value)) {
    for (const item of value) references(item, found);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const object = value as Json;
  if (typeof object['Ref'] === 'string') found.refs.add(object['Ref']);
  const getAtt = object['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') found.getAtts.add(getAtt[0]);
  else if (typeof getAtt === 'string') found.getAtts.add(getAtt.split('.')[0] as string);
  const sub = object['Fn::Sub'];
  const subText = typeof sub === 'string' ? sub : Array.isArray(sub) && typeof sub[0] === 'string' ? sub[0] : undefined;
  if (subText !== undefined) {
    const local = Array.isArray(sub) ? Object.keys(asObject(sub[1])) : [];
    for (const match of subText.matchAll(/\$\{([^!}][^}]*)\}/g)) {
      const name = (match[1] as string).split('.')[0] as string;
      if (!local.includes(name)) found.refs.add(name);
    }
    if (Array.isArray(sub)) references(sub[1], found);
    return;
  }
  for (const inner of Object.values(object)) references(inner, found);
}

/** Asset object keys (`<hash>.json`) → their source file in the assembly, from every stack's asset manifest. */
function assetSources(dir: string): Map<string, string> {
  const sources = new Map<string, string>();
  for (const name of readdirSync(dir).filter((file) => file.endsWith('.assets.json'))) {
    const files = asObject(asObject(JSON.parse(readFileSync(join(dir, name), 'utf8')))['files']);
    for (const entry of Object.values(files)) {
      const path = asObject(asObject(entry)['source'])['path'];
      for (const destination of Object.values(asObject(asObject(entry)['destinations']))) {
        const key = asObject(destination)['objectKey'];
        if (typeof key === 'string' && typeof path === 'string') sources.set(key, path);
      }
    }
  }
  return sources;
}

/** The template file a nested stack's TemplateURL (`Fn::Join [..., '/<hash>.json']`) names. */
function nestedTemplateKey(properties: Json | undefined, sources: Map<string, string>): string | undefined {
  const pieces = asObject(asObject(properties)['TemplateURL'])['Fn::Join'];
  const last = Array.isArray(pieces) && Array.isArray(pieces[1]) ? pieces[1][pieces[1].length - 1] : undefined;
  return typeof last === 'string' ? sources.get(last.split('/').pop() as string) : undefined;
}

/** Problems of one assembly's templates, each naming the template and the offending id; and the figures. */
export function checkAssemblyTemplates(dir: string): { problems: string[]; templates: TemplateFigures[] } {
  const problems: string[] = [];
  const templates: TemplateFigures[] = [];
  const files = assemblyTemplates(dir);
  const parsed = new Map(files.map((file) => [file, JSON.parse(readFileSync(file, 'utf8')) as Template]));
  const assetFiles = assetSources(dir);
  for (const [file, template] of parsed) {
    const name = file.slice(dir.length + 1);
    const resources = template.Resources ?? {};
    const bytes = statSync(file).size;
    templates.push({ file: name, resources: Object.keys(resources).length, bytes, nested: name.endsWith('.nested.template.json') });
    if (Object.keys(resources).length > MAX_RESOURCES_PER_TEMPLATE)
      problems.push(`${name}: ${Object.keys(resources).length} resources (CloudFormation allows ${MAX_RESOURCES_PER_TEMPLATE})`);
    if (bytes > MAX_TEMPLATE_BYTES) problems.push(`${name}: ${bytes} bytes (CloudFormation allows ${MAX_TEMPLATE_BYTES})`);
    const declared = new Set([...Object.keys(template.Parameters ?? {}), ...Object.keys(resources)]);
    for (const [id, resource] of Object.entries(resources)) {
      const found = { refs: new Set<string>(), getAtts: new Set<string>() };
      references(resource.Properties ?? {}, found);
      for (const ref of found.refs)
        if (!ref.startsWith('AWS::') && !declared.has(ref))
          problems.push(`${name}: ${id} refers to ${ref}, which the template does not declare`);
      for (const target of found.getAtts)
        if (!(target in resources))
          problems.push(`${name}: ${id} reads an attribute of ${target}, which is not a resource of the template`);
      for (const target of resource.DependsOn === undefined ? [] : ([] as string[]).concat(resource.DependsOn)) {
        if (!(target in resources)) problems.push(`${name}: ${id} depends on ${target}, which is not a resource of the template`);
      }
      if (resource.Condition !== undefined && !(resource.Condition in (template.Conditions ?? {})))
        problems.push(`${name}: ${id} has the undeclared condition ${resource.Condition}`);
      if (resource.Type !== 'AWS::CloudFormation::Stack') continue;
      const assetPath = asObject(resource.Metadata)['aws:asset:path'] ?? nestedTemplateKey(resource.Properties, assetFiles);
      const nested = typeof assetPath === 'string' ? parsed.get(join(dir, assetPath)) : undefined;
      if (!nested) {
        problems.push(`${name}: nested stack ${id} names no template of the assembly (aws:asset:path ${String(assetPath)})`);
        continue;
      }
      const passed = Object.keys(asObject(asObject(resource.Properties)['Parameters'])).sort();
      const declaredParameters = Object.entries(nested.Parameters ?? {});
      const required = declaredParameters
        .filter(([, parameter]) => parameter.Default === undefined)
        .map(([parameterName]) => parameterName);
      const missing = required.filter((parameterName) => !passed.includes(parameterName));
      const unknown = passed.filter((parameterName) => !declaredParameters.some(([declaredName]) => declaredName === parameterName));
      if (missing.length > 0) problems.push(`${name}: nested stack ${id} is not passed ${missing.join(', ')}`);
      if (unknown.length > 0)
        problems.push(`${name}: nested stack ${id} is passed ${unknown.join(', ')}, which ${String(assetPath)} does not declare`);
    }
    for (const [outputName, output] of Object.entries(template.Outputs ?? {})) {
      const found = { refs: new Set<string>(), getAtts: new Set<string>() };
      references(output, found);
      for (const ref of found.refs)
        if (!ref.startsWith('AWS::') && !declared.has(ref))
          problems.push(`${name}: output ${outputName} refers to ${ref}, which the template does not declare`);
      for (const target of found.getAtts)
        if (!(target in resources))
          problems.push(`${name}: output ${outputName} reads an attribute of ${target}, which is not a resource of the template`);
    }
  }
  return { problems, templates };
}
