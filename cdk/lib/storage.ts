import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, cfnReference } from './acknowledge.ts';

/** The one bucket of the storage layout (uploads/, jobs/, results/, checkpoints/, models/) and its log bucket. */
export class Storage extends Construct {
  readonly bucket: s3.Bucket;
  /** Receives the bucket's server access logs and the VPC flow logs. */
  readonly logBucket: s3.Bucket;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.logBucket = new s3.Bucket(this, 'LogBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // Server access log delivery supports SSE-S3 only.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(90) }],
    });
    acknowledge(
      this.logBucket,
      'This bucket is the access-log destination; logging it into itself would create a log record for every log delivery.',
      'AwsSolutions-S1',
    );

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'bucket/',
      cors: [
        {
          // Browsers upload with the presigned POST and fetch results with presigned GETs; the signature, not the origin, authorizes.
          allowedMethods: [s3.HttpMethods.POST, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
          allowedOrigins: ['*'],
          allowedHeaders: ['*'],
          maxAge: 3000,
        },
      ],
      lifecycleRules: [
        // An input is only needed until its job has run (retries included); results are what users keep.
        { id: 'expire-uploads', prefix: 'uploads/', expiration: Duration.days(7) },
        { id: 'expire-checkpoints', prefix: 'checkpoints/', expiration: Duration.days(7) },
        { id: 'abort-incomplete-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
  }

  /** GetObject under the prefix, and ListBucket limited to it (so a missing key reads as 404, not 403). */
  grantReadPrefix(grantee: iam.IGrantable, prefix: string): void {
    this.acknowledgePrefixWildcard(grantee, prefix);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects(`${prefix}*`)] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
      }),
    );
  }

  /** PutObject under the prefix (also what a presigned POST for that prefix needs). */
  grantWritePrefix(grantee: iam.IGrantable, prefix: string): void {
    this.acknowledgePrefixWildcard(grantee, prefix);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [this.bucket.arnForObjects(`${prefix}*`)],
      }),
    );
  }

  private acknowledgePrefixWildcard(grantee: iam.IGrantable, prefix: string): void {
    const principal = grantee.grantPrincipal;
    if (!Construct.isConstruct(principal)) return;
    acknowledge(
      principal,
      `The objects under ${prefix} are created after deployment (per job, or per model folder); a key-prefix wildcard on this one bucket is the narrowest grant S3 offers.`,
      `AwsSolutions-IAM5[Resource::${cfnReference(this.bucket, 'Arn')}/${prefix}*]`,
    );
  }
}
