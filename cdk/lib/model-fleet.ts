import { Duration, Stack } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge, cfnReference } from './acknowledge.ts';
import type { ModelManifest } from '../../shared/contracts/model-manifest.ts';
import { instanceFor } from './instance-catalog.ts';
import { MAX_RECEIVE_COUNT, type ModelQueue } from './model-queue.ts';
import type { Storage } from './storage.ts';
import type { WorkerCluster } from './worker-cluster.ts';

export interface ModelFleetProps {
  model: ModelManifest;
  workers: WorkerCluster;
  jobQueue: ModelQueue;
  storage: Storage;
  maxTasks: number;
}

const heartbeatCheck =
  'test ! -e "$PRECISEINV_HEARTBEAT_FILE" || test -n "$(find "$PRECISEINV_HEARTBEAT_FILE" -mmin -5)"';
/** Jobs waiting or running that justify one more task. */
const backlogPerTask = 2;
/** The uid the worker image runs as (see functions/worker/Dockerfile). */
const workerUser = '10001';
// Spot interruptions give two minutes; a timestep checkpoint fits well inside that.
const stopTimeout = Duration.seconds(120);
// An empty queue must stay empty this long before the last instance goes: saves a cold start between bursts.
const scaleToZeroAfterMinutes = 15;
// Root volume: the CUDA image plus the model folder the worker downloads (SD3 with T5 is about 20 GB).
const rootVolumeGiB = 100;

/** One model's workers: a GPU Auto Scaling group as capacity provider, its task definition and a 0..N service. */
export class ModelFleet extends Construct {
  readonly service: ecs.Ec2Service;
  readonly taskDefinition: ecs.Ec2TaskDefinition;

  constructor(scope: Construct, id: string, props: ModelFleetProps) {
    super(scope, id);
    const { model, workers, jobQueue, storage, maxTasks } = props;
    const { fleet } = model;
    const capacity = instanceFor(model);
    // No Application Auto Scaling policy takes more than 20 steps.
    if (maxTasks > 20) throw new Error(`Model "${model.id}": at most 20 tasks per model, got ${maxTasks}.`);

    const capacityProvider = this.capacityProvider(model, workers, maxTasks, capacity.gpus > 0);

    this.taskDefinition = new ecs.Ec2TaskDefinition(this, 'TaskDefinition', {
      // Bridge mode: tasks share the instance's public address, so no NAT gateway is needed.
      networkMode: ecs.NetworkMode.BRIDGE,
    });
    this.taskDefinition.addContainer('worker', {
      image: workers.workerImage,
      user: workerUser,
      memoryLimitMiB: fleet.memoryMiB,
      cpu: fleet.cpu,
      gpuCount: fleet.gpuCount > 0 ? fleet.gpuCount : undefined,
      stopTimeout,
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: 'worker',
        logGroup: new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH }),
      }),
      environment: {
        AWS_REGION: Stack.of(this).region,
        PRECISEINV_MODEL: model.id,
        PRECISEINV_MODEL_PREFIX: model.artifacts.prefix,
        PRECISEINV_BUCKET: storage.bucket.bucketName,
        PRECISEINV_QUEUE_URL: jobQueue.queue.queueUrl,
        // The worker sweeps its dead-letter queue to fail jobs whose every attempt crashed.
        PRECISEINV_DEAD_LETTER_QUEUE_URL: jobQueue.deadLetterQueue.queueUrl,
        PRECISEINV_MAX_RECEIVE_COUNT: String(MAX_RECEIVE_COUNT),
      },
      // Injected by the ECS agent at start; the task definition holds only the secret's ARN.
      secrets: { PRECISEINV_WEBHOOK_SECRET: ecs.Secret.fromSecretsManager(workers.webhookSigningKey) },
      // Same check as the Dockerfile's HEALTHCHECK (ECS only acts on checks it defines): a heartbeat, once written, must stay fresh.
      healthCheck: {
        command: ['CMD-SHELL', heartbeatCheck],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(300),
      },
    });
    this.grantWorker(this.taskDefinition.taskRole, props);
    acknowledge(
      this.taskDefinition,
      'The plain environment holds identifiers only (model id, bucket name, queue URL, region); the webhook key arrives through the secrets field.',
      'AwsSolutions-ECS2',
    );
    acknowledge(
      this.taskDefinition.obtainExecutionRole(),
      'ecr:GetAuthorizationToken, added by aws-cdk-lib for the image pull, has no resource-level permissions; the image and log permissions beside it are scoped.',
      'AwsSolutions-IAM5[Resource::*]',
    );

    this.service = new ecs.Ec2Service(this, 'Service', {
      cluster: workers.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: 0,
      // Never more tasks than maxTasks GPUs, even mid-deployment: GPU instance quotas are small.
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
      circuitBreaker: { enable: true, rollback: true },
      capacityProviderStrategies: [{ capacityProvider: capacityProvider.capacityProviderName, weight: 1 }],
    });
    this.scaleOnBacklog(jobQueue, maxTasks);
  }

  private capacityProvider(
    model: ModelManifest,
    workers: WorkerCluster,
    maxTasks: number,
    gpu: boolean,
  ): ecs.AsgCapacityProvider {
    const userData = ec2.UserData.forLinux();
    // CDK adds this only for launch-configuration Spot prices; it turns an interruption notice into task draining.
    if (model.fleet.spot) userData.addCommands('echo ECS_ENABLE_SPOT_INSTANCE_DRAINING=true >> /etc/ecs/ecs.config');
    const instanceRole = new iam.Role(this, 'InstanceRole', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    acknowledge(
      instanceRole,
      'The ECS agent statements aws-cdk-lib adds: ecs:Submit* is scoped to this cluster, ecs:Poll and ecs:StartTelemetrySession carry an ecs:cluster condition, and ecs:DiscoverPollEndpoint, ecr:GetAuthorizationToken and the agent log calls have no resource-level permissions.',
      'AwsSolutions-IAM5[Action::ecs:Submit*]',
      'AwsSolutions-IAM5[Resource::*]',
    );
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      // The SSM parameter resolves at deploy time: no account lookup at synth.
      machineImage: ecs.EcsOptimizedImage.amazonLinux2023(gpu ? ecs.AmiHardwareType.GPU : ecs.AmiHardwareType.STANDARD),
      instanceType: new ec2.InstanceType(model.fleet.instanceType),
      role: instanceRole,
      securityGroup: workers.instanceSecurityGroup,
      userData,
      // Hop limit 1 keeps bridge-mode containers off the instance role; they use their task role.
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(rootVolumeGiB, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }),
        },
      ],
    });
    const group = new autoscaling.AutoScalingGroup(this, 'Instances', {
      vpc: workers.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      minCapacity: 0,
      maxCapacity: maxTasks,
      ...(model.fleet.spot
        ? {
            mixedInstancesPolicy: {
              launchTemplate,
              instancesDistribution: {
                onDemandBaseCapacity: 0,
                onDemandPercentageAboveBaseCapacity: 0,
                spotAllocationStrategy: autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
              },
            },
            capacityRebalance: true,
          }
        : { launchTemplate }),
    });
    acknowledge(
      group,
      'ECS managed scaling launches and drains these instances; its decisions are in the ECS service events, and a notification per instance launch would page on every burst of jobs.',
      'AwsSolutions-AS3',
    );
    if (model.fleet.spot) {
      acknowledge(
        group,
        'The rule reads only a launch template attached directly, not one inside MixedInstancesPolicy; this launch template encrypts its only volume (asserted in infra-tests).',
        'AwsSolutions-EC26',
      );
    }
    const capacityProvider = new ecs.AsgCapacityProvider(this, 'CapacityProvider', {
      autoScalingGroup: group,
      machineImageType: ecs.MachineImageType.AMAZON_LINUX_2,
      enableManagedScaling: true,
      enableManagedTerminationProtection: true,
      enableManagedDraining: true,
      targetCapacityPercent: 100,
    });
    workers.cluster.addAsgCapacityProvider(capacityProvider, { spotInstanceDraining: model.fleet.spot });
    return capacityProvider;
  }

  private grantWorker(taskRole: iam.IRole, { model, storage, jobQueue, workers }: ModelFleetProps): void {
    storage.grantReadPrefix(taskRole, model.artifacts.prefix);
    storage.grantReadPrefix(taskRole, `uploads/${model.id}/`);
    for (const prefix of ['jobs/', 'checkpoints/']) {
      storage.grantReadPrefix(taskRole, prefix);
      storage.grantWritePrefix(taskRole, prefix);
    }
    storage.grantWritePrefix(taskRole, 'results/');
    // Render and interpolation jobs read the latents (and trajectories) of earlier inversions.
    storage.grantReadPrefix(taskRole, 'results/');
    jobQueue.queue.grantConsumeMessages(taskRole);
    // Reads and re-hides dead letters (never deletes them): they stay for the DLQ alarm and for inspection.
    jobQueue.deadLetterQueue.grant(taskRole, 'sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl');
    // The worker protects its task from scale-in while a job runs ($ECS_AGENT_URI/task-protection/v1/state).
    const clusterTasks = workers.cluster.arnForTasks('*');
    taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['ecs:GetTaskProtection', 'ecs:UpdateTaskProtection'], resources: [clusterTasks] }),
    );
    acknowledge(
      taskRole,
      "Task ids are assigned at run time; the wildcard covers only this cluster's tasks, and the agent endpoint applies the call to the caller's own task.",
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/${cfnReference(workers.cluster)}/*]`,
    );
  }

  /**
   * Desired tasks = ceil(backlog / backlogPerTask), where backlog counts visible and in-flight messages:
   * the first message wakes the service from zero, and a running job keeps its task.
   */
  private scaleOnBacklog(jobQueue: ModelQueue, maxTasks: number): void {
    const period = Duration.minutes(1);
    const backlog = new cloudwatch.MathExpression({
      expression: 'FILL(visible, 0) + FILL(inFlight, 0)',
      usingMetrics: {
        visible: jobQueue.queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
        inFlight: jobQueue.queue.metricApproximateNumberOfMessagesNotVisible({ period, statistic: 'Maximum' }),
      },
      label: 'Jobs waiting or running',
      period,
    });
    const steps: appscaling.ScalingInterval[] = [{ upper: 0, change: 0 }];
    for (let tasks = 1; tasks <= maxTasks; tasks++) {
      steps.push({ lower: (tasks - 1) * backlogPerTask + 1, change: tasks });
    }
    const taskCount = this.service.autoScaleTaskCount({ minCapacity: 0, maxCapacity: maxTasks });
    taskCount.scaleOnMetric('ScaleOnBacklog', {
      metric: backlog,
      scalingSteps: steps,
      adjustmentType: appscaling.AdjustmentType.EXACT_CAPACITY,
      evaluationPeriods: 1,
      cooldown: Duration.minutes(1),
    });
    const target = taskCount.node.findChild('Target') as appscaling.ScalableTarget;
    const policy = target.node.findChild('ScaleOnBacklog') as appscaling.StepScalingPolicy;
    const scaleToZeroAlarm = policy.lowerAlarm?.node.defaultChild as cloudwatch.CfnAlarm;
    scaleToZeroAlarm.evaluationPeriods = scaleToZeroAfterMinutes;
  }
}
