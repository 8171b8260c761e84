/** The `monitoring` prop: alarms, the dashboard and the saved Logs Insights query; notification wiring; the off switch. */
import { describe, expect, it } from 'vitest';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { DualAuthApi, type DualAuthApiProps } from '../../lib/construct/dual-auth-api';
import { demoRoutesServedBy } from '../support/demo-app';

function synth(props: DualAuthApiProps = {}, extra: (stack: Stack) => Partial<DualAuthApiProps> = () => ({})) {
  const stack = new Stack(new App(), 'MonitoredStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const backend = new lambda.Function(stack, 'Backend', {
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" })'),
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_22_X,
  });
  const gate = new DualAuthApi(stack, 'DualAuth', { ...props, ...extra(stack), routes: demoRoutesServedBy(backend) });
  return { template: Template.fromStack(stack), gate, stack };
}

const alarmNamed = (template: Template, logicalIdPrefix: string) => {
  const alarms = template.findResources('AWS::CloudWatch::Alarm');
  const entry = Object.entries(alarms).find(([id]) => id.startsWith(`DualAuthMonitoring${logicalIdPrefix}`));
  if (!entry) throw new Error(`no alarm ${logicalIdPrefix} among ${Object.keys(alarms).join(', ')}`);
  return entry[1].Properties as Record<string, unknown>;
};

describe('DualAuthApi monitoring (on by default)', () => {
  const { template, gate, stack } = synth();

  it('adds the seven alarms (six for the authorizer and the API, one for leak reports), without actions unless asked', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 7);
    expect(Object.keys(gate.monitoring!.alarms).sort()).toEqual([
      'Api5xxRate',
      'AuthorizerErrors',
      'AuthorizerFailClosed',
      'AuthorizerP99Duration',
      'AuthorizerThrottles',
      'AuthorizerUnknownRoute',
      'LeakReportsFailing',
    ]);
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
      expect(alarm.Properties.TreatMissingData).toBe('notBreaching');
    }
  });

  it('alarms on the authorizer failing closed, from the fail-outcome EMF metric', () => {
    expect(alarmNamed(template, 'AuthorizerFailClosed')).toMatchObject({
      Namespace: 'dualgate',
      MetricName: 'Decisions',
      Dimensions: [
        { Name: 'decision', Value: 'fail' },
        { Name: 'service', Value: 'dualgate-authorizer' },
      ],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('alarms on denies of routes the table does not know, for keys and JWTs alike', () => {
    const alarm = alarmNamed(template, 'AuthorizerUnknownRoute');
    expect(alarm).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    const metrics =
      (alarm.Metrics as {
        Expression?: string;
        MetricStat?: { Metric: { MetricName: string; Dimensions: { Name: string; Value: string }[] } };
      }[]) ?? [];
    expect(metrics.find((metric) => metric.Expression)?.Expression).toBe('FILL(byKey, 0) + FILL(byJwt, 0)');
    const kinds = metrics
      .flatMap((metric) => (metric.MetricStat ? [metric.MetricStat.Metric] : []))
      .map((metric) => {
        expect(metric.MetricName).toBe('Decisions');
        expect(metric.Dimensions).toEqual(
          expect.arrayContaining([
            { Name: 'decision', Value: 'deny' },
            { Name: 'reason', Value: 'unknown_route' },
          ]),
        );
        return metric.Dimensions.find((dimension) => dimension.Name === 'credentialKind')?.Value;
      });
    expect(kinds.sort()).toEqual(['apiKey', 'jwt']);
  });

  it("alarms on the API stage's 5XX rate above 5 %", () => {
    const alarm = alarmNamed(template, 'Api5xxRate');
    expect(alarm).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Statistic: 'Average',
      Threshold: 0.05,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect((alarm['Dimensions'] as { Name: string }[]).map((dimension) => dimension.Name).sort()).toEqual(['ApiName', 'Stage']);
    // The stage's own Ref is its name: this alarm watches exactly the deployed stage.
    expect(alarm['Dimensions']).toContainEqual({ Name: 'Stage', Value: { Ref: expect.stringMatching(/^DualAuthApiDeploymentStagev1/) } });
  });

  it('alarms on authorizer errors that are not decisions (Lambda Errors minus 401s and fail-closed answers)', () => {
    const alarm = alarmNamed(template, 'AuthorizerErrors');
    const metrics = alarm['Metrics'] as {
      Id: string;
      Expression?: string;
      MetricStat?: { Metric: { MetricName: string; Namespace: string; Dimensions?: { Name: string; Value: unknown }[] } };
    }[];
    expect(metrics.find((metric) => metric.Expression)?.Expression).toBe(
      'MAX([0, FILL(errors, 0) - FILL(unauthorized, 0) - FILL(failed, 0)])',
    );
    const byId = Object.fromEntries(metrics.filter((metric) => metric.MetricStat).map((metric) => [metric.Id, metric.MetricStat!.Metric]));
    expect(byId['errors']).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Errors' });
    expect(byId['unauthorized']).toMatchObject({
      Namespace: 'dualgate',
      MetricName: 'Decisions',
      Dimensions: expect.arrayContaining([{ Name: 'decision', Value: 'unauthorized' }]),
    });
    expect(byId['failed']).toMatchObject({
      Namespace: 'dualgate',
      MetricName: 'Decisions',
      Dimensions: expect.arrayContaining([{ Name: 'decision', Value: 'fail' }]),
    });
    expect(JSON.stringify(stack.resolve(byId['errors']!.Dimensions))).toContain('DualAuthAuthorizer');
  });

  it("alarms on the authorizer's throttles and on its p99 duration above 1 s for 15 minutes", () => {
    expect(alarmNamed(template, 'AuthorizerThrottles')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Statistic: 'Sum',
      Threshold: 1,
    });
    expect(alarmNamed(template, 'AuthorizerP99Duration')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Duration',
      ExtendedStatistic: 'p99',
      Threshold: 1000,
      EvaluationPeriods: 3,
      Period: 300,
    });
  });

  it('alarms when a GitHub leak report was not handled: leak function errors, key failures, or GitHub keys unreachable', () => {
    const alarm = alarmNamed(template, 'LeakReportsFailing');
    expect(alarm).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1 });
    const metrics = alarm['Metrics'] as {
      Id: string;
      Expression?: string;
      MetricStat?: { Metric: { MetricName: string; Namespace: string; Dimensions: { Name: string; Value: unknown }[] } };
    }[];
    expect(metrics.find((metric) => metric.Expression)?.Expression).toBe(
      'FILL(errors, 0) + FILL(keyFailures, 0) + FILL(keysUnavailable, 0)',
    );
    const byId = Object.fromEntries(metrics.filter((metric) => metric.MetricStat).map((metric) => [metric.Id, metric.MetricStat!.Metric]));
    expect(byId['errors']).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: expect.stringMatching(/^DualAuthLeakHandler/) } }],
    });
    expect(byId['keyFailures']).toMatchObject({
      Namespace: 'dualgate',
      MetricName: 'LeakKeyFailures',
      Dimensions: [{ Name: 'service', Value: 'dualgate-leaks' }],
    });
    expect(byId['keysUnavailable']).toMatchObject({
      MetricName: 'LeakReports',
      Dimensions: expect.arrayContaining([{ Name: 'outcome', Value: 'github_keys_unavailable' }]),
    });
  });

  it('builds a dashboard with decisions by outcome, latency, cache hits, API traffic and errors, and the key API', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]!;
    const body = JSON.stringify(stack.resolve(dashboard.Properties.DashboardBody));
    for (const title of [
      'Authorizer decisions by outcome',
      'Authorizer latency (ms)',
      'Cache hits',
      'API traffic and errors',
      'Authorizer health',
      'Key API',
      'GitHub leak reports',
      'dualgate alarms',
    ]) {
      expect(body).toContain(title);
    }
    for (const metric of [
      'Decisions',
      'CacheHits',
      'KeyLookupLatency',
      'JwksFetches',
      'LastUsedWriteFailures',
      'KeyApiRequests',
      '5XXError',
      '4XXError',
      'Count',
      'Duration',
    ]) {
      expect(body).toContain(`\\"${metric}\\"`);
    }
  });

  it("saves a Logs Insights query for requests per keyId and sub over the stage's access log", () => {
    template.resourceCountIs('AWS::Logs::QueryDefinition', 1);
    const query = Object.values(template.findResources('AWS::Logs::QueryDefinition'))[0]!.Properties;
    expect(query.QueryString).toContain('stats count(*) as requests, latest(@timestamp) as lastSeen by sub, keyId, authMethod');
    expect(query.QueryString).toContain('sort requests desc');
    const stage = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0]!.Properties;
    expect(query.LogGroupNames).toEqual([{ Ref: expect.stringMatching(/^DualAuthAccessLogs/) }]);
    expect(stage.AccessLogSetting.DestinationArn).toEqual({ 'Fn::GetAtt': [query.LogGroupNames[0].Ref, 'Arn'] });
    // The access log line carries both fields the query groups by.
    expect(stage.AccessLogSetting.Format).toContain('"sub":"$context.authorizer.sub"');
    expect(stage.AccessLogSetting.Format).toContain('"keyId":"$context.authorizer.keyId"');
    expect(JSON.stringify(stack.resolve(query.Name))).toContain('requests-per-key');
  });
});

describe('DualAuthApi monitoring options', () => {
  it('notifies an SNS topic on alarm and on recovery, and adds further actions', () => {
    let topic: sns.Topic | undefined;
    const { template } = synth({}, (stack) => {
      topic = new sns.Topic(stack, 'OnCall', { enforceSSL: true });
      const pager: cloudwatch.IAlarmAction = { bind: () => ({ alarmActionArn: 'arn:aws:sns:eu-west-1:123456789012:pager' }) };
      return { monitoring: { alarmTopic: topic, alarmActions: [pager], authorizerP99DurationMs: 400 } };
    });
    expect(topic).toBeDefined();
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([
        { Ref: expect.stringMatching(/^OnCall/) },
        'arn:aws:sns:eu-west-1:123456789012:pager',
      ]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: expect.stringMatching(/^OnCall/) }]);
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Duration', Threshold: 400 });
  });

  it('leaves the leak alarm out when leak detection is off', () => {
    const { template, gate } = synth({ leakDetection: false });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 6);
    expect(gate.monitoring!.alarms).not.toHaveProperty('LeakReportsFailing');
  });

  it('adds nothing with monitoring: false', () => {
    const { template, gate } = synth({ monitoring: false });
    expect(gate.monitoring).toBeUndefined();
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    template.resourceCountIs('AWS::Logs::QueryDefinition', 0);
  });

  it('keeps the per-key query widget and leaves out the key API widget without the management API', () => {
    const { template, stack } = synth({ managementApi: false });
    const body = JSON.stringify(
      stack.resolve(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]!.Properties.DashboardBody),
    );
    expect(body).toContain('Requests per key and sub');
    expect(body).not.toContain('KeyApiRequests');
    template.resourceCountIs('AWS::Logs::QueryDefinition', 1);
  });

  it('refuses bad monitoring options with an error that names them', () => {
    const stack = () => new Stack(new App(), 'Bad');
    expect(() => new DualAuthApi(stack(), 'A', { monitoring: 'yes' as never })).toThrow(/^monitoring must be true, false or \{/);
    expect(() => new DualAuthApi(stack(), 'B', { monitoring: { alarmTopc: 1 } as never })).toThrow(
      /^monitoring: unknown option\(s\) alarmTopc/,
    );
    expect(() => new DualAuthApi(stack(), 'C', { monitoring: { api5xxRateThreshold: 5 } })).toThrow(
      /^monitoring\.api5xxRateThreshold must be a number above 0 and at most 1 \(got 5\)$/,
    );
    expect(() => new DualAuthApi(stack(), 'D', { monitoring: { authorizerP99DurationMs: 0 } })).toThrow(
      /^monitoring\.authorizerP99DurationMs must be an integer/,
    );
  });

  it('carries lastUsedIntervalSeconds to the authorizer, and refuses a bad one', () => {
    const { template } = synth({ lastUsedIntervalSeconds: 0, monitoring: false });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DUALGATE_LAST_USED_INTERVAL_SECONDS: '0', DUALGATE_ISSUERS: Match.anyValue() }) },
    });
    expect(() => new DualAuthApi(new Stack(new App(), 'Bad'), 'A', { lastUsedIntervalSeconds: -5 })).toThrow(
      /^lastUsedIntervalSeconds must be an integer from 0 to 86400 seconds \(got -5\)$/,
    );
  });
});
