/**
 * Model folders for workers that do not ship them: models/{id}/ in the bucket is copied once to a
 * local cache folder (PRECISEINV_MODEL_CACHE, default the OS temp folder) and reused from there.
 * Each file is streamed from the bucket to disk, never held whole in memory. A copy is written to
 * a temporary folder and renamed into place, so a half-finished download is never mistaken for a
 * model.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listAll, type ObjectStore } from '../../shared/platform/object-store.ts';
import type { Logger } from '../../shared/platform/logger.ts';

/** Written last into a complete copy. */
export const CACHE_COMPLETE = '.preciseinv-cache-complete';

export class ModelCache {
  private readonly pending = new Map<string, Promise<string>>();
  readonly dir: string;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly objects: ObjectStore,
    options: { dir?: string; logger?: Logger } = {},
  ) {
    this.dir = options.dir ?? join(tmpdir(), 'preciseinv-models');
    this.logger = options.logger;
  }

  static fromEnv(objects: ObjectStore, env: Record<string, string | undefined>, logger?: Logger): ModelCache {
    const root = env.PRECISEINV_MODEL_CACHE?.trim() || tmpdir();
    return new ModelCache(objects, { dir: join(root, 'preciseinv-models'), ...(logger ? { logger } : {}) });
  }

  /** The local folder of models/{id}/ (or `prefix`), downloading it on first use. */
  ensure(modelId: string, prefix = `models/${modelId}/`): Promise<string> {
    let pending = this.pending.get(modelId);
    if (!pending) {
      pending = this.download(modelId, prefix);
      // A failed download may be retried by the next job.
      pending.catch(() => this.pending.delete(modelId));
      this.pending.set(modelId, pending);
    }
    return pending;
  }

  private async download(modelId: string, prefix: string): Promise<string> {
    const target = join(this.dir, modelId);
    if (existsSync(join(target, CACHE_COMPLETE))) return target;
    const started = performance.now();
    const keys = await listAll(this.objects, prefix);
    if (keys.length === 0) throw new Error(`no model files under '${prefix}' in the bucket`);
    const staging = join(this.dir, `.${modelId}.partial-${randomUUID()}`);
    let bytes = 0;
    try {
      for (const key of keys) {
        const relative = key.slice(prefix.length);
        // Keys come from the bucket: never let one write outside the staging folder.
        if (!relative || relative.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new Error(`refusing model file key '${key}'`);
        // Streamed to disk: weights files run to gigabytes and must never sit whole in memory.
        const head = await this.objects.getToFile(key, join(staging, ...relative.split('/')));
        if (!head) throw new Error(`model file '${key}' disappeared during the download`);
        bytes += head.size;
      }
      await writeFile(join(staging, CACHE_COMPLETE), `${JSON.stringify({ prefix, files: keys.length, bytes, at: new Date().toISOString() })}\n`);
      await rm(target, { recursive: true, force: true });
      await rename(staging, target);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    this.logger?.info('model downloaded', { model: modelId, prefix, files: keys.length, bytes, seconds: (performance.now() - started) / 1000, dir: target });
    return target;
  }
}
