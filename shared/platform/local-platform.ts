/**
 * The one-machine platform: a filesystem bucket, one in-process queue (with a dead-letter queue)
 * per model, and uploads announced to the model's queue as S3 ObjectCreated events, the way the
 * bucket notification does it on AWS, so the worker sees one message format everywhere.
 */
import { jobIdOfUploadKey } from '../contracts/queue-message.ts';
import { BatchStore } from './batch-store.ts';
import { FsObjectStore } from './fs-object-store.ts';
import { InProcessJobQueue } from './in-process-job-queue.ts';
import { JobStore } from './job-store.ts';
import { LocalUrlSigner } from './local-url-signer.ts';

export interface LocalPlatformOptions {
  dataDir: string;
  /** Origin the API is reachable at, for the signed upload and download URLs. */
  baseUrl: string;
  signingSecret: string;
  models: readonly string[];
  maxReceiveCount: number;
}

export interface LocalPlatform {
  objects: FsObjectStore;
  jobs: JobStore;
  batches: BatchStore;
  signer: LocalUrlSigner;
  queues: ReadonlyMap<string, InProcessJobQueue>;
  deadLetters: ReadonlyMap<string, InProcessJobQueue>;
  queueFor(model: string): InProcessJobQueue;
}

/** S3 writes event keys form-encoded: spaces as '+', everything else percent-encoded. */
const encodeS3EventKey = (key: string): string => encodeURIComponent(key).replaceAll('%2F', '/').replaceAll('%20', '+');

export function s3ObjectCreatedEvent(bucket: string, key: string, size: number): string {
  return JSON.stringify({
    Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Post', s3: { bucket: { name: bucket }, object: { key: encodeS3EventKey(key), size } } }],
  });
}

export function createLocalPlatform(options: LocalPlatformOptions): LocalPlatform {
  const deadLetters = new Map(options.models.map((m) => [m, new InProcessJobQueue()]));
  const queues = new Map(options.models.map((m) => [m, new InProcessJobQueue({ deadLetter: { queue: deadLetters.get(m)!, maxReceiveCount: options.maxReceiveCount } })]));
  const queueFor = (model: string): InProcessJobQueue => {
    const queue = queues.get(model);
    if (!queue) throw new Error(`no queue for model '${model}'; known: ${[...queues.keys()].join(', ')}`);
    return queue;
  };
  const signer = new LocalUrlSigner(options.signingSecret, options.baseUrl);
  const objects = new FsObjectStore({
    root: options.dataDir,
    signer,
    onObjectCreated: async (key, head) => {
      const model = key.split('/')[1];
      if (key.startsWith('uploads/') && jobIdOfUploadKey(key) && model && queues.has(model)) await queueFor(model).send(s3ObjectCreatedEvent('local', key, head.size));
    },
  });
  return { objects, jobs: new JobStore(objects), batches: new BatchStore(objects), signer, queues, deadLetters, queueFor };
}
