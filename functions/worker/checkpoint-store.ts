/**
 * Per-timestep checkpoints at checkpoints/{jobId}/step-{step}-of-{total}: each new one replaces
 * the last, so a redelivered job resumes from the latest completed timestep.
 */
import type { ObjectStore } from '../../shared/platform/object-store.ts';
import { listAll } from '../../shared/platform/object-store.ts';
import type { Checkpoint } from './inversion-runner.ts';

const pad = (n: number): string => String(n).padStart(6, '0');
const NAME = /\/step-(\d+)-of-(\d+)$/;

export class CheckpointStore {
  constructor(private readonly objects: ObjectStore) {}

  async save(jobId: string, checkpoint: Checkpoint): Promise<void> {
    const key = `checkpoints/${jobId}/step-${pad(checkpoint.step)}-of-${pad(checkpoint.totalSteps)}`;
    const previous = await listAll(this.objects, `checkpoints/${jobId}/`);
    await this.objects.put(key, checkpoint.state, { contentType: 'application/octet-stream' });
    for (const old of previous) if (old !== key) await this.objects.delete(old);
  }

  /** The latest checkpoint for totalSteps, or undefined (also when the job's step count differs). */
  async latest(jobId: string, totalSteps: number): Promise<Checkpoint | undefined> {
    const keys = await listAll(this.objects, `checkpoints/${jobId}/`);
    for (const key of keys.reverse()) {
      const match = NAME.exec(key);
      if (!match || Number(match[2]) !== totalSteps) continue;
      const object = await this.objects.get(key);
      if (object) return { step: Number(match[1]), totalSteps, state: object.body };
    }
    return undefined;
  }

  async clear(jobId: string): Promise<void> {
    for (const key of await listAll(this.objects, `checkpoints/${jobId}/`)) await this.objects.delete(key);
  }
}
