import { ArnFormat, Duration, IgnoreMode, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { acknowledge } from './acknowledge.ts';
import type { Storage } from './storage.ts';

export interface WorkerClusterProps {
  storage: Storage;
  alarmTopic: sns.ITopic;
  /** The repository root: the worker image's Docker build context. */
  repositoryRoot: string;
}

/** The network, the ECS cluster and the worker image that every model's fleet shares. */
export class WorkerCluster extends Construct {
  readonly vpc: ec2.Vpc;
  readonly cluster: ecs.Cluster;
  readonly instanceSecurityGroup: ec2.SecurityGroup;
  readonly workerImage: ecs.ContainerImage;
  /** The HMAC key workers sign completion webhooks with. */
  readonly webhookSigningKey: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: WorkerClusterProps) {
    super(scope, id);

    // Public subnets and no NAT gateway: an idle deployment pays for no network hardware.
    // Instances accept no inbound traffic; S3 traffic takes the free gateway endpoint.
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20 }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      flowLogs: {
        Rejected: {
          destination: ec2.FlowLogDestination.toS3(props.storage.logBucket, 'vpc-flow-logs/'),
          trafficType: ec2.FlowLogTrafficType.REJECT,
        },
      },
    });

    this.instanceSecurityGroup = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc: this.vpc,
      description: 'Worker instances: no inbound; outbound to AWS APIs, image registries and job webhooks.',
      allowAllOutbound: true,
    });

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: this.vpc,
      // Enhanced observability is billed per observed task, so a cluster at zero tasks costs nothing.
      containerInsightsV2: ecs.ContainerInsights.ENHANCED,
    });

    // Synth only stages the build context (filtered by the root .dockerignore); the image is built at deploy time.
    const image = new ecrAssets.DockerImageAsset(this, 'WorkerImage', {
      directory: props.repositoryRoot,
      file: 'functions/worker/Dockerfile',
      platform: ecrAssets.Platform.LINUX_AMD64,
      ignoreMode: IgnoreMode.DOCKER,
    });
    this.workerImage = ecs.ContainerImage.fromDockerImageAsset(image);

    this.webhookSigningKey = new secretsmanager.Secret(this, 'WebhookSigningKey', {
      description: 'HMAC key PreciseInv workers sign completion webhooks with; share it with webhook receivers.',
      generateSecretString: { excludePunctuation: true, passwordLength: 48 },
    });
    acknowledge(
      this.webhookSigningKey,
      'Webhook receivers verify signatures with a copy of this key they were given out of band; a scheduled rotation would break verification at every receiver without a coordinated rollover.',
      'AwsSolutions-SMG4',
    );

    this.alarmOnTaskFailures(props.alarmTopic);
  }

  /** Tasks that crash or never start are invisible to queue metrics, so ECS's own events feed an alarm. */
  private alarmOnTaskFailures(alarmTopic: sns.ITopic): void {
    const failures = new logs.LogGroup(this, 'TaskFailureEvents', { retention: logs.RetentionDays.ONE_MONTH });
    const rule = new events.Rule(this, 'TaskFailureRule', {
      description: 'Worker tasks that failed to start or whose worker process exited by itself.',
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: {
          clusterArn: [this.cluster.clusterArn],
          lastStatus: ['STOPPED'],
          stopCode: ['TaskFailedToStart', 'EssentialContainerExited'],
        },
      },
    });
    // A plain target plus a native resource policy: the library's log-group target deploys a Lambda to write that policy.
    const failuresArn = Stack.of(this).formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: failures.logGroupName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    rule.addTarget({ bind: () => ({ arn: failuresArn }) });
    new logs.ResourcePolicy(this, 'TaskFailureEventsPolicy', {
      policyStatements: [
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('events.amazonaws.com'), new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [failures.logGroupArn],
        }),
      ],
    });
    const alarm = new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName: 'TriggeredRules',
      dimensionsMap: { RuleName: rule.ruleName },
      statistic: 'Sum',
      period: Duration.minutes(5),
    }).createAlarm(this, 'TaskFailureAlarm', {
      alarmDescription: 'A worker task failed; its stop reason is in the TaskFailureEvents log group.',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new cloudwatchActions.SnsAction(alarmTopic));
  }
}
