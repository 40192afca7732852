import { Match } from 'aws-cdk-lib/assertions';
import type { CfnElement } from 'aws-cdk-lib';
import { AssetManifestArtifact } from 'aws-cdk-lib/cx-api';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelRegistry } from '../models/registry.ts';
import { ModelFleet } from '../cdk/lib/model-fleet.ts';
import { ModelQueue } from '../cdk/lib/model-queue.ts';
import { resourcesOf, synthesize, type Resources, type Synthesized } from './synthesize.ts';

let synthesized: Synthesized;
let resources: Resources;

beforeAll(() => {
  synthesized = synthesize(modelRegistry);
  resources = resourcesOf(synthesized.template);
});

function logicalId(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return synthesized.stack.getLogicalId(element);
}
function queueOf(id: string): ModelQueue {
  return synthesized.stack.node.findChild(`Queue-${id}`) as ModelQueue;
}
function fleetOf(id: string): ModelFleet {
  return synthesized.stack.node.findChild(`Fleet-${id}`) as ModelFleet;
}
function propertiesOf(construct: IConstruct): Record<string, any> {
  return resources[logicalId(construct)]?.Properties ?? {};
}
function ofType(type: string): Array<[string, Record<string, any>]> {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}
/** Every statement of every policy, standalone or inline, with the role(s) it applies to. */
function statements(): Array<{ roles: string[]; statement: Record<string, any> }> {
  const standalone = ofType('AWS::IAM::Policy').flatMap(([, p]) =>
    (p.PolicyDocument.Statement as Record<string, any>[]).map((statement) => ({
      roles: (p.Roles as Array<{ Ref: string }>).map((r) => r.Ref),
      statement,
    })),
  );
  const inline = ofType('AWS::IAM::Role').flatMap(([id, role]) =>
    ((role.Policies ?? []) as Record<string, any>[]).flatMap((p) =>
      (p.PolicyDocument.Statement as Record<string, any>[]).map((statement) => ({ roles: [id], statement })),
    ),
  );
  return [...standalone, ...inline];
}
const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
/** "uploads/sd15/*" from { Fn::Join: ['', [{ Fn::GetAtt: [bucket, 'Arn'] }, '/uploads/sd15/*']] }. */
function objectPrefixes(statement: Record<string, any>): string[] {
  return asArray(statement.Resource).map((r: any) => String(r['Fn::Join']?.[1]?.[1] ?? JSON.stringify(r)).replace(/^\//, ''));
}
function roleStatements(roleLogicalId: string, action: string): Record<string, any>[] {
  return statements()
    .filter(({ roles, statement }) => roles.includes(roleLogicalId) && asArray(statement.Action).includes(action))
    .map(({ statement }) => statement);
}

describe('per-model resources, one set per registry entry', () => {
  it('creates a queue and a dead-letter queue per model', () => {
    synthesized.template.resourceCountIs('AWS::SQS::Queue', 2 * modelRegistry.length);
    for (const model of modelRegistry) {
      const queue = propertiesOf(queueOf(model.id).queue);
      expect(queue.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(queueOf(model.id).deadLetterQueue), 'Arn'] },
        maxReceiveCount: 3,
      });
      expect(queue.VisibilityTimeout).toBeGreaterThan(model.fleet.jobTimeoutSeconds);
      expect(queue.SqsManagedSseEnabled).toBe(true);
    }
  });

  it('denies non-TLS access to every queue', () => {
    const policies = ofType('AWS::SQS::QueuePolicy');
    expect(policies).toHaveLength(2 * modelRegistry.length);
    for (const [, policy] of policies) {
      expect(policy.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  it('sends ObjectCreated under uploads/{id}/ to that model queue only', () => {
    const [[, notifications]] = ofType('Custom::S3BucketNotifications') as [[string, Record<string, any>]];
    const configs = notifications.NotificationConfiguration.QueueConfigurations as Record<string, any>[];
    expect(configs).toHaveLength(modelRegistry.length);
    for (const model of modelRegistry) {
      expect(configs).toContainEqual({
        Events: ['s3:ObjectCreated:*'],
        Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: `uploads/${model.id}/` }] } },
        QueueArn: { 'Fn::GetAtt': [logicalId(queueOf(model.id).queue), 'Arn'] },
      });
    }
  });

  it("gives each task definition the registry's GPU count, memory and CPU, as a non-root user", () => {
    synthesized.template.resourceCountIs('AWS::ECS::TaskDefinition', modelRegistry.length);
    for (const model of modelRegistry) {
      const [container] = propertiesOf(fleetOf(model.id).taskDefinition).ContainerDefinitions;
      expect(container.Memory).toBe(model.fleet.memoryMiB);
      expect(container.Cpu).toBe(model.fleet.cpu);
      const gpu = model.fleet.gpuCount > 0 ? [{ Type: 'GPU', Value: String(model.fleet.gpuCount) }] : undefined;
      expect(container.ResourceRequirements).toEqual(gpu);
      expect(container.User).toBe('10001');
      expect(container.StopTimeout).toBe(120);
      expect(container.LogConfiguration.LogDriver).toBe('awslogs');
      expect(container.Secrets).toEqual([
        { Name: 'PRECISEINV_WEBHOOK_SECRET', ValueFrom: { Ref: logicalId(synthesized.stack.node.findChild('Workers').node.findChild('WebhookSigningKey')) } },
      ]);
      expect(container.Environment).toEqual(
        expect.arrayContaining([
          { Name: 'PRECISEINV_MODEL', Value: model.id },
          { Name: 'PRECISEINV_MODEL_PREFIX', Value: `models/${model.id}/` },
          { Name: 'PRECISEINV_MAX_RECEIVE_COUNT', Value: '3' },
        ]),
      );
    }
  });

  it('starts every service at zero tasks on its own capacity provider', () => {
    synthesized.template.resourceCountIs('AWS::ECS::Service', modelRegistry.length);
    for (const model of modelRegistry) {
      const service = propertiesOf(fleetOf(model.id).service);
      expect(service.DesiredCount).toBe(0);
      expect(service.CapacityProviderStrategy).toHaveLength(1);
      expect(service.DeploymentConfiguration).toMatchObject({ MinimumHealthyPercent: 0, MaximumPercent: 100 });
    }
  });
});

describe('scale to zero and back', () => {
  const targets = () => ofType('AWS::ApplicationAutoScaling::ScalableTarget');

  it('lets every service scale between 0 and its maxTasks', () => {
    const ranges = targets().map(([, t]) => [t.MinCapacity, t.MaxCapacity]);
    expect(ranges.sort()).toEqual(modelRegistry.map((m) => [0, m.fleet.maxTasks]).sort());
  });

  it('wakes on the first message and adds a task per two jobs of backlog, as exact capacities', () => {
    const sd15 = modelRegistry.find((m) => m.id === 'sd15')!;
    const policies = ofType('AWS::ApplicationAutoScaling::ScalingPolicy').map(([, p]) => p.StepScalingPolicyConfiguration);
    expect(policies).toHaveLength(2 * modelRegistry.length);
    for (const policy of policies) expect(policy.AdjustmentType).toBe('ExactCapacity');
    // sd15: backlog >= 1 -> 1 task, >= 3 -> 2, >= 5 -> 3, >= 7 -> 4 (relative to the alarm threshold of 1).
    expect(policies).toContainEqual(
      expect.objectContaining({
        StepAdjustments: [
          { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 2, ScalingAdjustment: 1 },
          { MetricIntervalLowerBound: 2, MetricIntervalUpperBound: 4, ScalingAdjustment: 2 },
          { MetricIntervalLowerBound: 4, MetricIntervalUpperBound: 6, ScalingAdjustment: 3 },
          { MetricIntervalLowerBound: 6, ScalingAdjustment: sd15.fleet.maxTasks },
        ],
      }),
    );
    expect(policies).toContainEqual(
      expect.objectContaining({ StepAdjustments: [{ MetricIntervalUpperBound: 0, ScalingAdjustment: 0 }] }),
    );
  });

  it('counts visible and in-flight messages, scales out after one minute and to zero after fifteen', () => {
    const scalingAlarms = ofType('AWS::CloudWatch::Alarm').filter(([, a]) =>
      (a.Metrics as Record<string, any>[] | undefined)?.some((m) => m.Expression === 'FILL(visible, 0) + FILL(inFlight, 0)'),
    );
    expect(scalingAlarms).toHaveLength(2 * modelRegistry.length);
    const wake = scalingAlarms.filter(([, a]) => a.ComparisonOperator === 'GreaterThanOrEqualToThreshold');
    const sleep = scalingAlarms.filter(([, a]) => a.ComparisonOperator === 'LessThanOrEqualToThreshold');
    for (const [, alarm] of wake) expect(alarm).toMatchObject({ Threshold: 1, EvaluationPeriods: 1 });
    for (const [, alarm] of sleep) expect(alarm).toMatchObject({ Threshold: 0, EvaluationPeriods: 15 });
    expect(wake).toHaveLength(modelRegistry.length);
  });

  it('runs each fleet on an Auto Scaling group that can reach zero instances', () => {
    const groups = ofType('AWS::AutoScaling::AutoScalingGroup').map(([, g]) => [g.MinSize, g.MaxSize]);
    expect(groups.sort()).toEqual(modelRegistry.map((m) => ['0', String(m.fleet.maxTasks)]).sort());
  });

  it('uses managed scaling, termination protection and draining on every capacity provider', () => {
    const providers = ofType('AWS::ECS::CapacityProvider');
    expect(providers).toHaveLength(modelRegistry.length);
    for (const [, provider] of providers) {
      expect(provider.AutoScalingGroupProvider).toMatchObject({
        ManagedScaling: { Status: 'ENABLED', TargetCapacity: 100 },
        ManagedTerminationProtection: 'ENABLED',
        ManagedDraining: 'ENABLED',
      });
    }
  });

  it('boots GPU fleets from the ECS GPU-optimized AMI via a deploy-time SSM parameter', () => {
    const parameters = synthesized.template.toJSON().Parameters as Record<string, { Default?: string }>;
    const amiParameters = Object.values(parameters).map((p) => p.Default);
    expect(amiParameters).toContain('/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id');
    expect(amiParameters).toContain('/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id');
    for (const model of modelRegistry) {
      const templates = ofType('AWS::EC2::LaunchTemplate').filter(
        ([, t]) => t.LaunchTemplateData.InstanceType === model.fleet.instanceType,
      );
      expect(templates.length).toBeGreaterThan(0);
    }
  });

  it('requires IMDSv2 with one hop and encrypts the root volume of every instance', () => {
    for (const [, launchTemplate] of ofType('AWS::EC2::LaunchTemplate')) {
      const data = launchTemplate.LaunchTemplateData;
      expect(data.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
      expect(data.BlockDeviceMappings).toEqual([
        { DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 100, VolumeType: 'gp3' } },
      ]);
    }
  });

  it('buys Spot only for fleets that ask for it, with Spot draining', () => {
    for (const model of modelRegistry) {
      const fleet = fleetOf(model.id);
      const group = Object.values(resources).find(
        (r) => r.Type === 'AWS::AutoScaling::AutoScalingGroup' && JSON.stringify(r).includes(logicalId(fleet.node.findChild('LaunchTemplate'))),
      )!;
      expect(Boolean(group.Properties?.MixedInstancesPolicy)).toBe(model.fleet.spot);
      const userData = JSON.stringify(propertiesOf(fleet.node.findChild('LaunchTemplate')).LaunchTemplateData.UserData);
      expect(userData.includes('ECS_ENABLE_SPOT_INSTANCE_DRAINING=true')).toBe(model.fleet.spot);
    }
  });
});

describe('storage', () => {
  const bucket = () => {
    const [[, props]] = ofType('AWS::S3::Bucket').filter(([, b]) => b.CorsConfiguration) as [[string, Record<string, any>]];
    return props;
  };

  it('keeps the bucket private, encrypted and logged', () => {
    expect(bucket()).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LoggingConfiguration: { LogFilePrefix: 'bucket/' },
    });
    for (const [, policy] of ofType('AWS::S3::BucketPolicy')) {
      expect(policy.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  it('allows browser presigned POST uploads and expires uploads and checkpoints', () => {
    expect(bucket().CorsConfiguration.CorsRules[0].AllowedMethods).toContain('POST');
    const rules = bucket().LifecycleConfiguration.Rules as Record<string, any>[];
    expect(rules).toContainEqual(expect.objectContaining({ Prefix: 'uploads/', ExpirationInDays: 7 }));
    expect(rules).toContainEqual(expect.objectContaining({ Prefix: 'checkpoints/', ExpirationInDays: 7 }));
  });
});

describe('least privilege', () => {
  it('grants no service-wide wildcard actions', () => {
    for (const { statement } of statements()) {
      for (const action of asArray(statement.Action) as string[]) expect(action).not.toMatch(/^(\*|[a-z0-9-]+:\*)$/);
    }
  });

  it('uses Resource "*" only for actions that have no resource-level permissions', () => {
    const unscoped = new Set(
      statements()
        .filter(({ statement }) => asArray(statement.Resource).includes('*'))
        .flatMap(({ statement }) => asArray(statement.Action) as string[]),
    );
    // The ECS agent's calls on the instance role and the image pull token on the execution roles.
    expect([...unscoped].sort()).toEqual([
      'ecr:GetAuthorizationToken',
      'ecs:DiscoverPollEndpoint',
      'ecs:Poll',
      'ecs:StartTelemetrySession',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
    ]);
  });

  it('scopes each worker to its model folder and uploads, plus the shared job prefixes and the results renders read', () => {
    for (const model of modelRegistry) {
      const role = logicalId(fleetOf(model.id).taskDefinition.taskRole);
      const reads = roleStatements(role, 's3:GetObject').flatMap(objectPrefixes).sort();
      const writes = roleStatements(role, 's3:PutObject').flatMap(objectPrefixes).sort();
      expect(reads).toEqual(['checkpoints/*', 'jobs/*', `models/${model.id}/*`, 'results/*', `uploads/${model.id}/*`].sort());
      expect(writes).toEqual(['checkpoints/*', 'jobs/*', 'results/*']);
      const listed = roleStatements(role, 's3:ListBucket').map((s) => s.Condition.StringLike['s3:prefix']).flat().sort();
      expect(listed).toEqual(['checkpoints/*', 'jobs/*', `models/${model.id}/*`, 'results/*', `uploads/${model.id}/*`].sort());
    }
  });

  it('lets a worker protect its own tasks from scale-in, in this cluster only', () => {
    const role = logicalId(fleetOf('sd15').taskDefinition.taskRole);
    const [protection] = roleStatements(role, 'ecs:UpdateTaskProtection');
    expect(protection?.Action).toEqual(['ecs:GetTaskProtection', 'ecs:UpdateTaskProtection']);
    expect(JSON.stringify(protection?.Resource)).toMatch(/:task\/".*WorkersCluster.*\/\*"/);
  });

  it('lets the API sign uploads, write job records and read results and checkpoints, and nothing under models/', () => {
    const role = Object.entries(resources).find(([id, r]) => r.Type === 'AWS::IAM::Role' && id.startsWith('ApiFunctionRole'))![0];
    expect(roleStatements(role, 's3:PutObject').flatMap(objectPrefixes).sort()).toEqual(['jobs/*', 'uploads/*']);
    expect(roleStatements(role, 's3:GetObject').flatMap(objectPrefixes).sort()).toEqual(['checkpoints/*', 'jobs/*', 'results/*']);
    const sends = roleStatements(role, 'sqs:SendMessage');
    expect(sends.flatMap((s) => asArray(s.Resource))).toHaveLength(modelRegistry.length);
  });
});

describe('API', () => {
  it('runs the Hono handler on a current Node.js runtime with its settings from the stack', () => {
    synthesized.template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Environment: {
        Variables: Match.objectLike({
          PRECISEINV_BUCKET: Match.anyValue(),
          PRECISEINV_API_KEY_HASHES: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('^\\{\\{resolve:secretsmanager:')])] },
          PRECISEINV_QUEUE_URLS: Match.anyValue(),
        }),
      },
    });
  });

  it('bundles the function with the local esbuild, into the cloud assembly', () => {
    const lambdaAssets = readdirSync(synthesized.assembly.directory).filter((name) =>
      existsSync(join(synthesized.assembly.directory, name, 'index.mjs')),
    );
    expect(lambdaAssets).toHaveLength(1);
  });

  it('ships the built web console beside the handler, so the API URL serves it', () => {
    const [asset] = readdirSync(synthesized.assembly.directory).filter((name) => existsSync(join(synthesized.assembly.directory, name, 'index.mjs')));
    const consoleDir = join(synthesized.assembly.directory, asset!, 'console');
    expect(readdirSync(consoleDir).sort()).toEqual(['console.css', 'console.js', 'favicon.svg', 'index.html']);
    expect(readFileSync(join(consoleDir, 'index.html'), 'utf8')).toContain('<script type="module" src="console.js"></script>');
  });

  it('throttles the HTTP API stage and logs access', () => {
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });

  it('keeps the API key digests in Secrets Manager, starting with one that matches no key', () => {
    synthesized.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludeUppercase: true, ExcludePunctuation: true, ExcludeCharacters: 'ghijklmnopqrstuvwxyz' },
    });
  });
});

describe('alarms', () => {
  it('alarms on a non-empty DLQ and on stalled jobs for every model, and on task failures', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a);
    const metric = (name: string) => alarms.filter((a) => a.MetricName === name);
    expect(metric('ApproximateNumberOfMessagesVisible')).toHaveLength(modelRegistry.length);
    expect(metric('ApproximateAgeOfOldestMessage')).toHaveLength(modelRegistry.length);
    expect(metric('TriggeredRules')).toHaveLength(1);
    for (const alarm of [...metric('ApproximateNumberOfMessagesVisible'), ...metric('TriggeredRules')]) {
      expect(alarm.AlarmActions).toHaveLength(1);
    }
  });
});

describe('worker image', () => {
  it('stages the Docker build context without building it, leaving out node_modules, tools and cdk.out', () => {
    const manifest = synthesized.assembly.artifacts.find((a) => a instanceof AssetManifestArtifact) as AssetManifestArtifact;
    const images = Object.values(JSON.parse(readFileSync(manifest.file, 'utf8')).dockerImages ?? {}) as Array<{
      source: { directory: string; dockerFile: string; platform: string };
    }>;
    expect(images).toHaveLength(1);
    const [{ source }] = images as [(typeof images)[number]];
    expect(source).toMatchObject({ dockerFile: 'functions/worker/Dockerfile', platform: 'linux/amd64' });
    const context = join(synthesized.assembly.directory, source.directory);
    expect(existsSync(join(context, 'functions/worker/Dockerfile'))).toBe(true);
    expect(existsSync(join(context, 'package-lock.json'))).toBe(true);
    expect(existsSync(join(context, 'models/registry.ts'))).toBe(true);
    for (const excluded of ['node_modules', 'tools', 'cdk.out', '.git', 'infra-tests', 'models/tiny']) {
      expect(existsSync(join(context, excluded)), excluded).toBe(false);
    }
  });
});

describe('template snapshot', () => {
  it('matches the reviewed template (asset hashes normalised)', async () => {
    const text = JSON.stringify(synthesized.template.toJSON(), null, 2).replace(/[0-9a-f]{64}/g, '<asset-hash>');
    await expect(text).toMatchFileSnapshot('./__snapshots__/preciseinv.template.json');
  });
});
