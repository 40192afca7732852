/** S3 and SQS clients from one place; an endpoint override (moto, LocalStack) forces path-style S3 URLs. */
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';

export interface AwsClientOptions {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface AwsClients {
  s3: S3Client;
  sqs: SQSClient;
}

export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  const common = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
  return { s3: new S3Client({ ...common, forcePathStyle: options.endpoint !== undefined }), sqs: new SQSClient(common) };
}
