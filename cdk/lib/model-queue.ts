import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ModelManifest } from '../../shared/contracts/model-manifest.ts';
import { acknowledge } from './acknowledge.ts';
import type { Storage } from './storage.ts';

export interface ModelQueueProps {
  model: ModelManifest;
  storage: Storage;
  alarmTopic: sns.ITopic;
}

/** Deliveries before a message moves to the DLQ; the worker fails the job on the last one. */
export const MAX_RECEIVE_COUNT = 3;

// Time beyond the job itself: downloading the input and uploading the results.
const transferMargin = Duration.minutes(10);
// How long a queue may wait for a fleet at zero: metric delay, a GPU instance boot and the image pull.
const coldStartAllowance = Duration.minutes(30);

/** One model's job queue: uploads under uploads/{id}/ land here, failures end in its DLQ. */
export class ModelQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ModelQueueProps) {
    super(scope, id);
    const { model, storage, alarmTopic } = props;
    const jobTimeout = Duration.seconds(model.fleet.jobTimeoutSeconds);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      // SSE-SQS rather than KMS: S3 can deliver to it without a key policy.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: jobTimeout.plus(transferMargin),
      receiveMessageWaitTime: Duration.seconds(20),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });

    storage.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(this.queue), {
      prefix: `uploads/${model.id}/`,
    });
    // aws-cdk-lib writes notification configurations through one handler per stack, under this fixed id.
    acknowledge(
      Stack.of(this).node.findChild('BucketNotificationsHandler050a0587b7544547bf325f094a3db834'),
      "aws-cdk-lib's handler that writes the bucket notification configuration during deployments; AWSLambdaBasicExecutionRole only lets it write its own logs.",
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    );

    const alarmAction = new cloudwatchActions.SnsAction(alarmTopic);
    const failedJobs = this.deadLetterQueue
      .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' })
      .createAlarm(this, 'FailedJobsAlarm', {
        alarmDescription: `Jobs for ${model.id} failed ${MAX_RECEIVE_COUNT} times and sit in its dead-letter queue.`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    const stalledJobs = this.queue
      .metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' })
      .createAlarm(this, 'StalledJobsAlarm', {
        alarmDescription: `A ${model.id} job has waited longer than a cold start plus its timeout: the fleet is not consuming.`,
        threshold: jobTimeout.plus(coldStartAllowance).toSeconds(),
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    for (const alarm of [failedJobs, stalledJobs]) alarm.addAlarmAction(alarmAction);
  }
}
