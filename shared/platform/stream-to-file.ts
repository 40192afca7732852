/**
 * Writes a byte stream to a local file all or nothing, for ObjectStore.getToFile: the stream goes
 * to a temporary file in the target's folder (so the final rename stays on one filesystem and is
 * atomic) and is renamed into place only once complete and of the expected size.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StreamToFileOptions {
  /** Bytes the source announced (Content-Length); a different count fails the copy as cut short. */
  expectedBytes?: number;
  /** Sees every chunk on its way to the file, e.g. to hash it. */
  through?: Transform;
  /** Names the source in errors. */
  source: string;
}

/** Returns the number of bytes written. On any failure `path` is left as it was and the temporary file is removed. */
export async function streamToFile(stream: Readable, path: string, options: StreamToFileOptions): Promise<number> {
  const partial = `${path}.partial-${randomUUID()}`;
  try {
    await mkdir(dirname(path), { recursive: true });
    const sink = createWriteStream(partial, { flags: 'wx' });
    await (options.through ? pipeline(stream, options.through, sink) : pipeline(stream, sink));
    const written = (await stat(partial)).size;
    if (options.expectedBytes !== undefined && written !== options.expectedBytes) {
      throw new Error(`copy of ${options.source} to '${path}' was cut short: ${written} of ${options.expectedBytes} bytes arrived`);
    }
    await rename(partial, path);
    return written;
  } catch (error) {
    // Releases the source (an HTTP socket, a file handle) when the failure was on the writing side.
    stream.destroy();
    await rm(partial, { force: true });
    throw error;
  }
}
