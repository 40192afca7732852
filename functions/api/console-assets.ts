/**
 * The web console's built files (console/): the page, its script and its stylesheet, by URL path.
 * `preciseinv serve` builds them in memory at start; the Lambda reads them from its bundle folder.
 */
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';

export interface ConsoleAsset {
  body: Uint8Array;
  contentType: string;
}

/** URL path ('/', '/console.js', ...) -> file. */
export type ConsoleAssets = ReadonlyMap<string, ConsoleAsset>;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export function consoleAsset(name: string, body: Uint8Array): [string, ConsoleAsset] {
  const contentType = CONTENT_TYPES[extname(name)];
  if (!contentType) throw new Error(`console file '${name}': no content type for '${extname(name)}' files`);
  return [name === 'index.html' ? '/' : `/${name}`, { body, contentType }];
}

/** Reads a folder written by `tsx console/build-console.ts <dir>`; fails naming the folder when the page is missing. */
export async function readConsoleAssets(dir: string): Promise<ConsoleAssets> {
  const names = await readdir(dir).catch((): string[] => []);
  if (!names.includes('index.html')) throw new Error(`no web console in '${dir}' (index.html missing); build it with: npx tsx console/build-console.ts ${dir}`);
  return new Map(await Promise.all(names.map(async (name) => consoleAsset(name, new Uint8Array(await readFile(join(dir, name)))))));
}
