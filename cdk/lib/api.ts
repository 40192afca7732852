import { Duration, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { acknowledge } from './acknowledge.ts';
import type { Storage } from './storage.ts';

export interface ApiProps {
  storage: Storage;
  /** Each deployed model's job queue, by model id. */
  queues: ReadonlyMap<string, sqs.IQueue>;
  repositoryRoot: string;
}

// Steady and burst request rates for the whole API; job creation is cheap, inversion is queued.
const throttle = { rateLimit: 50, burstLimit: 100 };

/** The Hono API and its web console as one Lambda function behind a throttled HTTP API, with its API key digests in Secrets Manager. */
export class Api extends Construct {
  readonly url: string;
  readonly apiKeyHashes: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { storage, queues, repositoryRoot } = props;

    this.apiKeyHashes = new secretsmanager.Secret(this, 'ApiKeyHashes', {
      description: 'SHA-256 hex digests of the PreciseInv API keys, comma-separated. The generated value matches no key.',
      // 64 random hex digits: a well-formed digest of no known key, so a fresh API refuses every request.
      generateSecretString: {
        passwordLength: 64,
        excludeUppercase: true,
        excludePunctuation: true,
        excludeCharacters: 'ghijklmnopqrstuvwxyz',
      },
    });
    acknowledge(
      this.apiKeyHashes,
      'The secret holds digests of keys that clients were handed out of band; a scheduled rotation cannot reissue those keys. Revoke or add a key by editing the digest list and redeploying.',
      'AwsSolutions-SMG4',
    );

    const logGroup = new logs.LogGroup(this, 'FunctionLogs', { retention: logs.RetentionDays.ONE_MONTH });
    // A role of our own instead of AWSLambdaBasicExecutionRole, whose log permissions cover every log group.
    const role = new iam.Role(this, 'FunctionRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);

    const handler = new nodejs.NodejsFunction(this, 'Function', {
      entry: join(repositoryRoot, 'functions/api/lambda.ts'),
      handler: 'handler',
      projectRoot: repositoryRoot,
      depsLockFilePath: join(repositoryRoot, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 1024,
      // HTTP APIs give up on an integration after 30 seconds.
      timeout: Duration.seconds(29),
      role,
      logGroup,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        PRECISEINV_BUCKET: storage.bucket.bucketName,
        // A deploy-time dynamic reference: the digests reach the function, the keys never do.
        PRECISEINV_API_KEY_HASHES: this.apiKeyHashes.secretValue.unsafeUnwrap(),
        PRECISEINV_QUEUE_URLS: Stack.of(this).toJsonString(
          Object.fromEntries([...queues].map(([modelId, queue]) => [modelId, queue.queueUrl])),
        ),
      },
      bundling: {
        // The local esbuild from devDependencies; synth must not need Docker.
        forceDockerBundling: false,
        format: nodejs.OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        // ESM output still meets CommonJS dependencies that call require().
        banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        // Bundle the AWS SDK too, so the function runs the versions the lockfile tested.
        externalModules: [],
        minify: true,
        sourceMap: true,
        // The web console ships in the function's folder; lambda.ts serves it under / with the API.
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir, outputDir) => [`npx tsx console/build-console.ts ${outputDir}/console`],
        },
      },
    });

    storage.grantWritePrefix(handler, 'uploads/');
    storage.grantReadPrefix(handler, 'jobs/');
    storage.grantWritePrefix(handler, 'jobs/');
    storage.grantReadPrefix(handler, 'results/');
    // GET /v1/jobs/{id}/steps reads a running job's step records from its latest checkpoint.
    storage.grantReadPrefix(handler, 'checkpoints/');
    for (const queue of queues.values()) queue.grantSendMessages(handler);

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH });
    const httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'PreciseInv job API',
      createDefaultStage: false,
      defaultIntegration: new HttpLambdaIntegration('Function', handler),
    });
    const stage = httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: { destination: new apigw.LogGroupLogDestination(accessLogs) },
    });
    acknowledge(
      httpApi,
      'The function checks the bearer API key against the ApiKeyHashes digests before any route runs; an API Gateway authorizer would repeat that check at the cost of a second invocation per request. Only /healthz and /openapi.json answer without a key, by design.',
      'AwsSolutions-APIG4',
    );
    this.url = stage.url;
  }
}
