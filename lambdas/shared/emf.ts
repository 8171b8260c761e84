/**
 * CloudWatch Embedded Metric Format, written by hand onto the log lines dualgate already writes: a decision
 * costs no extra line, and no extra serialisation beyond one precomputed `_aws` block per kind of line.
 *
 * Why not @aws-lambda-powertools/metrics: its cold-start cost was within noise, but each decision would pay
 * for its own store, validation and a second JSON line (~9 µs measured, several times a cached decision).
 * The layout follows the EMF specification and Powertools' conventions (namespace, `service` dimension, units):
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 *
 * Dimensions hold bounded values only (decision, credential kind, reason code, operation). Identities such as
 * `keyId` and `sub` stay plain properties of the line: searchable in Logs Insights, never a metric dimension.
 */

/** The namespace every dualgate metric is published under. */
export const METRICS_NAMESPACE = 'dualgate';

/** Powertools' unit names (the subset dualgate uses); CloudWatch's own spelling. */
export type MetricUnit = 'Count' | 'Milliseconds';

export interface MetricDefinition {
  readonly name: string;
  readonly unit: MetricUnit;
}

/** The member EMF reserves for its metadata. */
const EMF_FIELD = '_aws';

/** EMF's limits: 30 dimensions per dimension set, 100 metrics per directive. */
const EMF_MAX_DIMENSIONS = 30;
const EMF_MAX_METRICS = 100;

/**
 * One kind of metric line: which top-level members are metrics (numbers) and which dimension sets they are
 * counted under (each dimension a top-level string). Serialised once; each line adds only its Timestamp.
 */
export class EmfDirective {
  /** `"CloudWatchMetrics":[…]`'s value, as JSON. */
  readonly cloudWatchMetricsJson: string;
  /** The top-level members the directive reads: its dimensions and its metrics. */
  readonly members: ReadonlySet<string>;

  constructor(
    readonly metrics: readonly MetricDefinition[],
    readonly dimensionSets: readonly (readonly string[])[],
    readonly namespace: string = METRICS_NAMESPACE,
  ) {
    if (metrics.length === 0 || metrics.length > EMF_MAX_METRICS) throw new Error(`an EMF directive holds 1 to ${EMF_MAX_METRICS} metrics`);
    for (const set of dimensionSets) {
      if (set.length > EMF_MAX_DIMENSIONS) throw new Error(`an EMF dimension set holds at most ${EMF_MAX_DIMENSIONS} dimensions`);
    }
    this.members = new Set([...dimensionSets.flat(), ...metrics.map((metric) => metric.name)]);
    this.cloudWatchMetricsJson = JSON.stringify([
      { Namespace: namespace, Dimensions: dimensionSets, Metrics: metrics.map((metric) => ({ Name: metric.name, Unit: metric.unit })) },
    ]);
  }

  private lastTimestampMs = -1;
  private lastAwsMember = '';

  /** The `_aws` member's value for a line written at `timestampMs` (epoch milliseconds, as EMF requires). */
  awsJson(timestampMs: number): string {
    return `{"Timestamp":${timestampMs},"CloudWatchMetrics":${this.cloudWatchMetricsJson}}`;
  }

  /**
   * `,"_aws":{…}` for a line written at `timestampMs`, ready to append to a line's members. Built once per
   * millisecond (a busy authorizer writes many lines within one) and flattened, so appending it costs one concatenation.
   */
  awsMember(timestampMs: number): string {
    if (timestampMs !== this.lastTimestampMs) {
      this.lastTimestampMs = timestampMs;
      const member = `,"${EMF_FIELD}":${this.awsJson(timestampMs)}`;
      // Flatten once (a cons string would be walked again by every line that reuses it).
      this.lastAwsMember = JSON.parse(JSON.stringify(member)) as string;
    }
    return this.lastAwsMember;
  }
}

/** Authorizer metrics: names, units and dimension sets, one place for the code, the construct and docs/operations.md. */
export const AUTHORIZER_METRICS = {
  /** One per decision. */
  decisions: { name: 'Decisions', unit: 'Count' },
  /** 1 when an allow came from memory (key or token cache), 0 when it needed a table read or a verification. */
  cacheHits: { name: 'CacheHits', unit: 'Count' },
  /** How long one GetItem of the key table took, on decisions that read it. */
  keyLookupLatency: { name: 'KeyLookupLatency', unit: 'Milliseconds' },
  /** One per JWKS fetch attempt (cold start, unknown kid); `JwksFetchFailures` counts the failed ones. */
  jwksFetches: { name: 'JwksFetches', unit: 'Count' },
  jwksFetchFailures: { name: 'JwksFetchFailures', unit: 'Count' },
  /** lastUsedAt writes that failed (logged, never fatal). */
  lastUsedWriteFailures: { name: 'LastUsedWriteFailures', unit: 'Count' },
} as const satisfies Record<string, MetricDefinition>;

/** Key API metrics: one line per request. */
export const KEY_API_METRICS = {
  requests: { name: 'KeyApiRequests', unit: 'Count' },
  /** 1 for a 4xx answer (bad input, missing scope, not found, conflict). */
  clientErrors: { name: 'KeyApiClientErrors', unit: 'Count' },
  /** 1 for a 5xx answer (key store unavailable, internal error). */
  faults: { name: 'KeyApiFaults', unit: 'Count' },
  latency: { name: 'KeyApiLatency', unit: 'Milliseconds' },
} as const satisfies Record<string, MetricDefinition>;

/** The `service` values (Powertools' service dimension) of dualgate's two Lambdas. */
export const AUTHORIZER_SERVICE = 'dualgate-authorizer';
export const KEY_API_SERVICE = 'dualgate-keys';

/** Decisions by outcome, and by outcome, credential kind and reason. */
const DECISION_DIMENSION_SETS = [
  ['service', 'decision'],
  ['service', 'decision', 'credentialKind', 'reason'],
] as const;

export const DECISION_DIRECTIVE = new EmfDirective([AUTHORIZER_METRICS.decisions], DECISION_DIMENSION_SETS);
export const ALLOW_DIRECTIVE = new EmfDirective([AUTHORIZER_METRICS.decisions, AUTHORIZER_METRICS.cacheHits], DECISION_DIMENSION_SETS);
export const ALLOW_WITH_LOOKUP_DIRECTIVE = new EmfDirective(
  [AUTHORIZER_METRICS.decisions, AUTHORIZER_METRICS.cacheHits, AUTHORIZER_METRICS.keyLookupLatency],
  DECISION_DIMENSION_SETS,
);
export const DECISION_WITH_LOOKUP_DIRECTIVE = new EmfDirective(
  [AUTHORIZER_METRICS.decisions, AUTHORIZER_METRICS.keyLookupLatency],
  DECISION_DIMENSION_SETS,
);
export const JWKS_FETCH_DIRECTIVE = new EmfDirective([AUTHORIZER_METRICS.jwksFetches, AUTHORIZER_METRICS.jwksFetchFailures], [['service']]);
export const LAST_USED_FAILURE_DIRECTIVE = new EmfDirective([AUTHORIZER_METRICS.lastUsedWriteFailures], [['service']]);
export const KEY_API_DIRECTIVE = new EmfDirective(
  [KEY_API_METRICS.requests, KEY_API_METRICS.clientErrors, KEY_API_METRICS.faults, KEY_API_METRICS.latency],
  [['service', 'operation'], ['service']],
);

/** Leak endpoint metrics (POST /leaks/github): one line per report. */
export const LEAK_METRICS = {
  /** One per report received, by `outcome`: `accepted`, or the rejection's reason code. */
  reports: { name: 'LeakReports', unit: 'Count' },
  /** Matches in accepted reports, and how many were ours (`true_positive`). */
  tokens: { name: 'LeakTokens', unit: 'Count' },
  truePositives: { name: 'LeakTruePositives', unit: 'Count' },
  /** Keys this report revoked (the `revoke` action) or marked (`notify`); repeats count 0. */
  keysRevoked: { name: 'LeakKeysRevoked', unit: 'Count' },
  keysMarked: { name: 'LeakKeysMarked', unit: 'Count' },
  /** Keys that could not be handled (table unavailable): the report was answered 503, for GitHub to retry. */
  keyFailures: { name: 'LeakKeyFailures', unit: 'Count' },
  /** SNS messages that could not be published (the keys were acted on all the same). */
  publishFailures: { name: 'LeakPublishFailures', unit: 'Count' },
  latency: { name: 'LeakReportLatency', unit: 'Milliseconds' },
} as const satisfies Record<string, MetricDefinition>;

export const LEAK_SERVICE = 'dualgate-leaks';

export const LEAK_REPORT_DIRECTIVE = new EmfDirective(Object.values(LEAK_METRICS), [['service', 'outcome'], ['service']]);
