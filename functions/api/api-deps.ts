/** What the API needs from the outside world: ports, configuration and the model registry. */
import type { ModelManifest } from '../../shared/contracts/model-manifest.ts';
import type { BatchStore } from '../../shared/platform/batch-store.ts';
import type { JobQueue } from '../../shared/platform/job-queue.ts';
import type { JobStore } from '../../shared/platform/job-store.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import type { LocalUrlSigner } from '../../shared/platform/local-url-signer.ts';
import type { ObjectStore } from '../../shared/platform/object-store.ts';
import type { WebhookDestinationPolicy } from '../../shared/platform/webhook-destination.ts';
import type { ApiKeyRing } from './api-keys.ts';
import type { ConsoleAssets } from './console-assets.ts';

export const DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024;

export interface ApiDeps {
  objects: ObjectStore;
  jobs: JobStore;
  batches: BatchStore;
  /** The queue of a model's fleet. */
  queueFor(model: string): JobQueue;
  models: readonly ModelManifest[];
  apiKeys: ApiKeyRing;
  upload: { maxBytes: number; expiresInSeconds: number };
  downloadExpiresInSeconds: number;
  /** Where the API reports what a response cannot say: unhandled errors, damaged records. */
  logger: Logger;
  /** Only in the one-machine mode: the API itself serves the signed upload and download URLs. */
  localSigner?: LocalUrlSigner;
  /** Which webhook hosts a job may name; default: public addresses only. */
  webhookPolicy?: WebhookDestinationPolicy;
  /** The web console's files, served under `/`. */
  console?: ConsoleAssets;
  now?: () => Date;
}

export type ApiEnv = { Variables: { owner: string } };
