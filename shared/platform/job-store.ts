/** Job records at jobs/{jobId}.json, plus the jobs of a batch by their id prefix. */
import { Job, jobKey } from '../contracts/job.ts';
import { mapConcurrent } from './map-concurrent.ts';
import { JsonRecordStore, UnreadableRecordError } from './json-record-store.ts';
import type { ObjectStore } from './object-store.ts';

const JOB_PREFIX = 'jobs/';

export class JobStore extends JsonRecordStore<Job> {
  constructor(store: ObjectStore) {
    super(store, Job, jobKey);
  }

  /**
   * Jobs whose ids start with `{batchId}-`, in index order; reads run concurrently. Records that
   * cannot be read are left out and named in `unreadable`, so one damaged record hides only itself.
   */
  async listByBatch(batchId: string, concurrency = 16): Promise<{ jobs: Job[]; unreadable: UnreadableRecordError[] }> {
    const ids: string[] = [];
    for await (const key of this.store.list(`${JOB_PREFIX}${batchId}-`)) ids.push(key.slice(JOB_PREFIX.length, -'.json'.length));
    const unreadable: UnreadableRecordError[] = [];
    const jobs = await mapConcurrent(ids, concurrency, async (id) => {
      try {
        return (await this.get(id))?.value;
      } catch (error) {
        if (!(error instanceof UnreadableRecordError)) throw error;
        unreadable.push(error);
        return undefined;
      }
    });
    return { jobs: jobs.filter((job): job is Job => job !== undefined && job.batchId === batchId), unreadable };
  }
}
