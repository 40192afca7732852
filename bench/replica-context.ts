/**
 * What the real-size benches (full-scale.ts, end-to-end.ts) share: the replicas tools/replicas
 * builds, where they live, the tools' Python, and the malloc setting both sides run under.
 */
import { join, resolve } from 'node:path';
import { choices } from './report-context.ts';

const ROOT = resolve(import.meta.dirname, '..');

export const REPLICA_MODELS = ['sd15', 'lcm-sd15', 'sd21', 'sdxl', 'sd3'] as const;
export type ReplicaModel = (typeof REPLICA_MODELS)[number];

export function parseReplicaModel(text: string | undefined): ReplicaModel {
  if (!text) throw new Error(`--model is required: one of ${REPLICA_MODELS.join(', ')}`);
  return choices('model', text, REPLICA_MODELS)[0]!;
}

export function replicaDir(name: string): string {
  return join(ROOT, 'models', 'replicas', name);
}

export const toolsPython = (): string => process.env['PRECISEINV_PYTHON'] ?? join(ROOT, 'tools', '.venv', 'bin', 'python');

export type MallocMode = 'hugepages' | 'default';

/**
 * The environment every step runs in. 'hugepages' sets GLIBC_TUNABLES=glibc.malloc.hugetlb=1:
 * glibc then asks for transparent huge pages for its large blocks. On a virtual machine, where
 * each 4 KiB page fault is expensive, that keeps torch's timings (its allocator maps and unmaps
 * every large tensor) from being dominated by page faults; both sides get the same.
 */
export function mallocEnv(text: string): { mode: MallocMode; env: NodeJS.ProcessEnv } {
  const mode = choices('malloc', text, ['hugepages', 'default'] as const)[0]!;
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (mode === 'hugepages') env['GLIBC_TUNABLES'] = 'glibc.malloc.hugetlb=1';
  else delete env['GLIBC_TUNABLES'];
  return { mode, env };
}
