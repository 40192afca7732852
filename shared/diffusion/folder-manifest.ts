/**
 * preciseinv.json at the root of a model folder: what this project derived from the folder
 * (the gradient graph, its inputs and outputs, and a fingerprint of the model it came from).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const GradientGraphRecord = z.object({
  component: z.enum(['unet', 'transformer']),
  path: z.string(),
  wrt: z.string(),
  of: z.string(),
  cotangentInput: z.string(),
  gradientOutput: z.string(),
  opset: z.number().int(),
  /**
   * The forward model.onnx it was built from: size, modification time and a content fingerprint
   * (source-fingerprint.ts), compared whenever the gradient graph is opened.
   */
  source: z.object({ path: z.string(), bytes: z.number().int(), mtimeMs: z.number(), fingerprint: z.string().regex(/^[0-9a-f]{64}$/).optional() }),
  nodes: z.object({ forward: z.number().int(), gradient: z.number().int() }),
  builtAt: z.string(),
});
export type GradientGraphRecord = z.infer<typeof GradientGraphRecord>;

export const FolderManifest = z.object({
  schemaVersion: z.literal(1),
  gradientGraph: GradientGraphRecord.optional(),
});
export type FolderManifest = z.infer<typeof FolderManifest>;

export const FOLDER_MANIFEST = 'preciseinv.json';

export function readFolderManifest(dir: string): FolderManifest | undefined {
  const file = join(dir, FOLDER_MANIFEST);
  if (!existsSync(file)) return undefined;
  const parsed = FolderManifest.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file} is not a valid manifest: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export function writeFolderManifest(dir: string, manifest: FolderManifest): void {
  const file = join(dir, FOLDER_MANIFEST);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(FolderManifest.parse(manifest), null, 2)}\n`);
  renameSync(tmp, file);
}
