/**
 * A checker for CloudWatch Embedded Metric Format documents, written from the specification
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
 * returns every violation it finds, so a test can show them all.
 */

/** The units CloudWatch accepts (MetricDatum.Unit). */
export const CLOUDWATCH_UNITS = new Set([
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
]);

export interface EmfMetric {
  namespace: string;
  name: string;
  unit: string | undefined;
  /** The dimension sets it is published under, each as name → value. */
  dimensionSets: Record<string, string>[];
  values: number[];
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Spec violations of one log line; [] for a valid EMF document. */
export function emfViolations(line: string): string[] {
  const errors: string[] = [];
  let root: unknown;
  try {
    root = JSON.parse(line);
  } catch {
    return ['not JSON'];
  }
  if (!isRecord(root)) return ['root is not an object'];
  const aws = root['_aws'];
  if (!isRecord(aws)) return ['no _aws object'];
  const timestamp = aws['Timestamp'];
  if (typeof timestamp !== 'number' || !Number.isInteger(timestamp) || timestamp < 1e12 || timestamp > 1e13) {
    errors.push(`_aws.Timestamp must be epoch milliseconds (got ${JSON.stringify(timestamp)})`);
  }
  const directives = aws['CloudWatchMetrics'];
  if (!Array.isArray(directives) || directives.length === 0) return [...errors, '_aws.CloudWatchMetrics must be a non-empty array'];
  for (const [index, directive] of directives.entries()) {
    const where = `CloudWatchMetrics[${index}]`;
    if (!isRecord(directive)) {
      errors.push(`${where} is not an object`);
      continue;
    }
    const namespace = directive['Namespace'];
    if (typeof namespace !== 'string' || namespace.length < 1 || namespace.length > 255)
      errors.push(`${where}.Namespace must be a string of 1-255 characters`);
    const dimensions = directive['Dimensions'];
    if (!Array.isArray(dimensions)) errors.push(`${where}.Dimensions must be an array of dimension sets`);
    else {
      for (const set of dimensions) {
        if (!Array.isArray(set) || set.length > 30) {
          errors.push(`${where}: a dimension set must be an array of at most 30 names`);
          continue;
        }
        for (const name of set) {
          if (typeof name !== 'string' || name.length < 1 || name.length > 250)
            errors.push(`${where}: dimension name ${JSON.stringify(name)} must be a string of 1-250 characters`);
          else if (typeof root[name] !== 'string')
            errors.push(`${where}: dimension ${name} must be a top-level string member (got ${JSON.stringify(root[name])})`);
          else if ((root[name] as string).length < 1 || (root[name] as string).length > 1024)
            errors.push(`${where}: dimension ${name}'s value must have 1-1024 characters`);
        }
      }
    }
    const metrics = directive['Metrics'];
    if (!Array.isArray(metrics) || metrics.length === 0 || metrics.length > 100) {
      errors.push(`${where}.Metrics must be an array of 1-100 metric definitions`);
      continue;
    }
    for (const metric of metrics) {
      if (!isRecord(metric) || typeof metric['Name'] !== 'string' || metric['Name'].length < 1 || metric['Name'].length > 255) {
        errors.push(`${where}: a metric needs a Name of 1-255 characters`);
        continue;
      }
      const name = metric['Name'];
      const unit = metric['Unit'];
      if (unit !== undefined && (typeof unit !== 'string' || !CLOUDWATCH_UNITS.has(unit)))
        errors.push(`${where}: metric ${name} has unit ${JSON.stringify(unit)}, not a CloudWatch unit`);
      const resolution = metric['StorageResolution'];
      if (resolution !== undefined && resolution !== 1 && resolution !== 60)
        errors.push(`${where}: metric ${name}'s StorageResolution must be 1 or 60`);
      const value = root[name];
      const values = Array.isArray(value) ? value : [value];
      if (values.length === 0 || values.length > 100 || values.some((entry) => typeof entry !== 'number' || !Number.isFinite(entry))) {
        errors.push(
          `${where}: metric ${name} must be a top-level number or an array of at most 100 numbers (got ${JSON.stringify(value)})`,
        );
      }
    }
  }
  return errors;
}

/** The metrics a valid EMF line publishes. Throws on an invalid line. */
export function emfMetrics(line: string): EmfMetric[] {
  const errors = emfViolations(line);
  if (errors.length > 0) throw new Error(`invalid EMF: ${errors.join('; ')}\n${line}`);
  const root = JSON.parse(line) as Record<string, unknown> & {
    _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit?: string }[] }[] };
  };
  return root._aws.CloudWatchMetrics.flatMap((directive) =>
    directive.Metrics.map((metric) => {
      const value = root[metric.Name] as number | number[];
      return {
        namespace: directive.Namespace,
        name: metric.Name,
        unit: metric.Unit,
        dimensionSets: directive.Dimensions.map((set) =>
          Object.fromEntries(set.map((dimension) => [dimension, root[dimension] as string])),
        ),
        values: Array.isArray(value) ? value : [value],
      };
    }),
  );
}
