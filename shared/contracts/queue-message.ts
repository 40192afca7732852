/**
 * What arrives on a model's queue: our own job message (imports, local uploads, re-queues) or an
 * S3 event notification for uploads/{model}/{jobId}/input, whose keys arrive URL-encoded with '+'
 * for spaces. The s3:TestEvent that S3 sends when notifications are configured is recognised and
 * carries no work.
 */
import { z } from 'zod';

export const JobQueueMessage = z.object({
  kind: z.literal('job'),
  jobId: z.string().min(1),
});
export type JobQueueMessage = z.infer<typeof JobQueueMessage>;

const S3EventRecord = z.object({
  eventSource: z.literal('aws:s3'),
  eventName: z.string(),
  s3: z.object({
    bucket: z.object({ name: z.string() }),
    object: z.object({ key: z.string(), size: z.number().optional() }),
  }),
});

const S3EventNotification = z.object({ Records: z.array(S3EventRecord) });
const S3TestEvent = z.object({ Event: z.literal('s3:TestEvent') });

/** One unit of work named by a message: a job id, and the uploaded key when it came from S3. */
export interface QueuedWork {
  jobId: string;
  uploadedKey?: string;
}

export type ParsedQueueMessage = { kind: 'work'; items: QueuedWork[] } | { kind: 'test-event' } | { kind: 'invalid'; reason: string };

const UPLOAD_KEY = /^uploads\/[^/]+\/([^/]+)\/input$/;

/** S3 encodes event keys like an HTML form: '+' is a space, the rest percent-encoded. */
export function decodeS3EventKey(key: string): string {
  return decodeURIComponent(key.replaceAll('+', ' '));
}

/** The job id an upload key belongs to, or undefined for keys outside uploads/{model}/{jobId}/input. */
export function jobIdOfUploadKey(key: string): string | undefined {
  return UPLOAD_KEY.exec(key)?.[1];
}

export function uploadKey(model: string, jobId: string): string {
  return `uploads/${model}/${jobId}/input`;
}

export function parseQueueMessage(body: string): ParsedQueueMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { kind: 'invalid', reason: 'message body is not JSON' };
  }
  const job = JobQueueMessage.safeParse(json);
  if (job.success) return { kind: 'work', items: [{ jobId: job.data.jobId }] };
  if (S3TestEvent.safeParse(json).success) return { kind: 'test-event' };
  const event = S3EventNotification.safeParse(json);
  if (!event.success) return { kind: 'invalid', reason: 'neither a job message nor an S3 event notification' };
  const items: QueuedWork[] = [];
  for (const record of event.data.Records) {
    if (!record.eventName.startsWith('ObjectCreated:')) continue;
    const key = decodeS3EventKey(record.s3.object.key);
    const jobId = jobIdOfUploadKey(key);
    if (!jobId) return { kind: 'invalid', reason: `S3 event for '${key}', which is not an upload key uploads/{model}/{jobId}/input` };
    items.push({ jobId, uploadedKey: key });
  }
  return { kind: 'work', items };
}

export function jobMessageBody(jobId: string): string {
  return JSON.stringify({ kind: 'job', jobId } satisfies JobQueueMessage);
}
