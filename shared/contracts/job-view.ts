/** A job as the API shows it: the record without its internals, plus presigned URLs where they apply. */
import { z } from 'zod';
import { Job, JobOutputName, type Job as JobRecord } from './job.ts';

export const PresignedUpload = z
  .object({
    url: z.string(),
    fields: z.record(z.string(), z.string()).describe('send these form fields first, then the image as the field "file"'),
    expiresAt: z.iso.datetime(),
    maxBytes: z.number().int(),
  })
  .meta({ id: 'PresignedUpload' });
export type PresignedUpload = z.infer<typeof PresignedUpload>;

export const OutputLink = z.object({ key: z.string(), url: z.string() });

export const JobView = Job.omit({ owner: true, lease: true, requestHash: true, outputs: true })
  .extend({
    outputs: z.partialRecord(JobOutputName, OutputLink).describe('presigned GET URLs, once succeeded'),
    upload: PresignedUpload.optional().describe('present while the job awaits its image'),
  })
  .meta({ id: 'Job' });
export type JobView = z.infer<typeof JobView>;

export function toJobView(job: JobRecord, links: JobView['outputs'], upload?: PresignedUpload): JobView {
  const { owner: _owner, lease: _lease, requestHash: _hash, outputs: _outputs, ...visible } = job;
  return { ...visible, outputs: links, ...(upload ? { upload } : {}) };
}
