import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { ModelRegistry } from '../../shared/contracts/model-manifest.ts';
import { acknowledge } from './acknowledge.ts';
import { Api } from './api.ts';
import { ModelFleet } from './model-fleet.ts';
import { ModelQueue } from './model-queue.ts';
import { Storage } from './storage.ts';
import { WorkerCluster } from './worker-cluster.ts';

export interface PreciseInvStackProps extends StackProps {
  /** The models to deploy: one queue, task definition, service and GPU group each. */
  models: ModelRegistry;
  /** Upper bound on every model's fleet.maxTasks, e.g. to stay inside a GPU instance quota. */
  maxTasksPerModel?: number;
  /** Subscribed to the alarm topic when given. */
  alarmEmail?: string;
  /** Root of this repository: the API's bundling root and the worker image's build context. */
  repositoryRoot: string;
}

/** Wires the constructs; one queue and one fleet per registry entry. */
export class PreciseInvStack extends Stack {
  constructor(scope: Construct, id: string, props: PreciseInvStackProps) {
    super(scope, id, props);
    const { models, maxTasksPerModel, alarmEmail, repositoryRoot } = props;

    const alarmTopic = new sns.Topic(this, 'AlarmTopic', { displayName: 'PreciseInv alarms', enforceSSL: true });
    acknowledge(
      alarmTopic,
      'Alarm notifications carry only alarm names and states, no job data. CloudWatch cannot publish to a topic under the AWS-managed SNS key, and a customer-managed key would be a fixed monthly cost of an otherwise idle-free stack.',
      'AwsSolutions-SNS2',
    );
    if (alarmEmail) alarmTopic.addSubscription(new subscriptions.EmailSubscription(alarmEmail));

    const storage = new Storage(this, 'Storage');
    const workers = new WorkerCluster(this, 'Workers', { storage, alarmTopic, repositoryRoot });

    const queues = new Map<string, sqs.IQueue>();
    for (const model of models) {
      const jobQueue = new ModelQueue(this, `Queue-${model.id}`, { model, storage, alarmTopic });
      const maxTasks = Math.min(model.fleet.maxTasks, maxTasksPerModel ?? Number.POSITIVE_INFINITY);
      new ModelFleet(this, `Fleet-${model.id}`, { model, workers, jobQueue, storage, maxTasks });
      queues.set(model.id, jobQueue.queue);
    }

    const api = new Api(this, 'Api', { storage, queues, repositoryRoot });

    new CfnOutput(this, 'ApiUrl', { value: api.url });
    new CfnOutput(this, 'BucketName', { value: storage.bucket.bucketName });
    new CfnOutput(this, 'ApiKeyHashesSecretArn', { value: api.apiKeyHashes.secretArn });
    new CfnOutput(this, 'WebhookSigningKeyArn', { value: workers.webhookSigningKey.secretArn });
  }
}
