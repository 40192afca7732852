/**
 * Builds the web console: console/src/main.ts bundled by esbuild into one script for current
 * browsers, next to the page and stylesheet in console/static/. In memory for `preciseinv serve`;
 * `npx tsx console/build-console.ts <dir>` writes the files (the Lambda bundle ships them).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { consoleAsset, type ConsoleAssets } from '../functions/api/console-assets.ts';

const SOURCE = join(import.meta.dirname, 'src', 'main.ts');
const STATIC = join(import.meta.dirname, 'static');

/** File name -> contents. */
async function consoleFiles(): Promise<Map<string, Uint8Array>> {
  const result = await build({
    entryPoints: [SOURCE],
    bundle: true,
    write: false,
    format: 'esm',
    target: ['chrome120', 'firefox120', 'safari17'],
    minify: true,
    legalComments: 'none',
    outfile: 'console.js',
    logLevel: 'silent',
  });
  const files = new Map<string, Uint8Array>();
  for (const name of await readdir(STATIC)) files.set(name, new Uint8Array(await readFile(join(STATIC, name))));
  files.set('console.js', result.outputFiles[0]!.contents);
  return files;
}

export async function buildConsole(): Promise<ConsoleAssets> {
  return new Map([...(await consoleFiles())].map(([name, body]) => consoleAsset(name, body)));
}

export async function writeConsole(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, body] of await consoleFiles()) await writeFile(join(dir, name), body);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: npx tsx console/build-console.ts <output folder>\n');
    process.exit(2);
  }
  await writeConsole(resolve(dir));
}
