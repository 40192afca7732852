/**
 * Per-timestep checkpoints at checkpoints/{jobId}/step-{step}-of-{total}: each new one replaces
 * the last (written first, then the old one deleted, so a crash between leaves two, never none),
 * and a redelivered job resumes from the latest completed timestep.
 */
import type { ObjectStore } from '../../shared/platform/object-store.ts';
import { listAll } from '../../shared/platform/object-store.ts';
import type { Checkpoint } from './inversion-runner.ts';

const pad = (n: number): string => String(n).padStart(6, '0');
const NAME = /\/step-(\d+)-of-(\d+)$/;

export class CheckpointStore {
  /** The last key this process wrote per job, so replacing it needs no listing. */
  private readonly lastKey = new Map<string, string>();

  constructor(private readonly objects: ObjectStore) {}

  async save(jobId: string, checkpoint: Checkpoint): Promise<void> {
    const key = `checkpoints/${jobId}/step-${pad(checkpoint.step)}-of-${pad(checkpoint.totalSteps)}`;
    await this.objects.put(key, checkpoint.state, { contentType: 'application/octet-stream' });
    const previous = this.lastKey.get(jobId);
    this.lastKey.set(jobId, key);
    if (previous && previous !== key) await this.objects.delete(previous);
  }

  /** The latest checkpoint for totalSteps, or undefined (also when the job's step count differs). */
  async latest(jobId: string, totalSteps: number): Promise<Checkpoint | undefined> {
    const keys = await listAll(this.objects, `checkpoints/${jobId}/`);
    for (const key of keys.reverse()) {
      const match = NAME.exec(key);
      if (!match || Number(match[2]) !== totalSteps) continue;
      const object = await this.objects.get(key);
      if (!object) continue;
      this.lastKey.set(jobId, key);
      return { step: Number(match[1]), totalSteps, state: object.body };
    }
    return undefined;
  }

  async clear(jobId: string): Promise<void> {
    this.lastKey.delete(jobId);
    for (const key of await listAll(this.objects, `checkpoints/${jobId}/`)) await this.objects.delete(key);
  }
}
