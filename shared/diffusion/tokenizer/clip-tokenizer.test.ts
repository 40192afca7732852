import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { ClipTokenizer } from './clip-tokenizer.ts';
import { TokenizerFileError } from './tokenizer-files.ts';

const testdata = join(import.meta.dirname, 'testdata');
const vocabJson = gunzipSync(readFileSync(join(testdata, 'clip/vocab.json.gz'))).toString('utf8');
const mergesTxt = gunzipSync(readFileSync(join(testdata, 'clip/merges.txt.gz'))).toString('utf8');

interface Case {
  text: string;
  ids: number[];
  mask: number[];
  full?: number[];
}
const vectors = JSON.parse(readFileSync(join(testdata, 'clip-prompts.json'), 'utf8')) as { cases: Case[]; padBang: Case[] };

const folders: string[] = [];
function tokenizerFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'clip-tokenizer-'));
  folders.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
afterAll(() => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const sd15 = ClipTokenizer.fromFolder(tokenizerFolder({ 'vocab.json': vocabJson, 'merges.txt': mergesTxt }));

describe('ClipTokenizer against transformers CLIPTokenizer', () => {
  it('has the SD 1.x specials', () => {
    expect([sd15.bosId, sd15.eosId, sd15.padId, sd15.maxLength]).toEqual([49406, 49407, 49407, 77]);
  });

  it(`matches padded ids and masks on all ${vectors.cases.length} prompts`, () => {
    const mismatches = vectors.cases.filter((c) => {
      const { ids, length } = sd15.encode(c.text);
      const mask = ids.map((_, i) => (i < length ? 1 : 0));
      return JSON.stringify(ids) !== JSON.stringify(c.ids) || JSON.stringify(mask) !== JSON.stringify(c.mask);
    });
    expect(mismatches.map((c) => c.text)).toEqual([]);
    expect(vectors.cases.length).toBeGreaterThanOrEqual(200);
  });

  it('matches untruncated ids, including prompts longer than 77 tokens', () => {
    const mismatches = vectors.cases.filter((c) => {
      const ids = [sd15.bosId, ...sd15.encodeText(c.text), sd15.eosId];
      return JSON.stringify(ids) !== JSON.stringify(c.full);
    });
    expect(mismatches.map((c) => c.text)).toEqual([]);
    expect(vectors.cases.some((c) => c.full!.length > 77)).toBe(true);
  });

  it("pads with '!' (id 0) when the folder's config says so, as SDXL's second tokenizer does", () => {
    const dir = tokenizerFolder({
      'vocab.json': vocabJson,
      'merges.txt': mergesTxt,
      'tokenizer_config.json': JSON.stringify({ model_max_length: 77, pad_token: '!' }),
      'special_tokens_map.json': JSON.stringify({ pad_token: { content: '<|endoftext|>', lstrip: false } }),
    });
    const sdxl2 = ClipTokenizer.fromFolder(dir);
    expect(sdxl2.padId).toBe(0);
    for (const c of vectors.padBang) {
      const batch = sdxl2.encodeBatch([c.text], 'int32');
      expect(Array.from(batch.inputIds)).toEqual(c.ids);
      expect(Array.from(batch.attentionMask)).toEqual(c.mask);
    }
  });
});

describe('ClipTokenizer batches', () => {
  it('returns [batch, 77] ids and masks as Int32Array or BigInt64Array', () => {
    const texts = ['a photo of a cat', ''];
    const i32 = sd15.encodeBatch(texts, 'int32');
    const i64 = sd15.encodeBatch(texts, 'int64');
    expect(i32.dims).toEqual([2, 77]);
    expect(i32.inputIds).toBeInstanceOf(Int32Array);
    expect(i64.inputIds).toBeInstanceOf(BigInt64Array);
    expect(Array.from(i32.inputIds.subarray(0, 8))).toEqual([49406, 320, 1125, 539, 320, 2368, 49407, 49407]);
    expect(Array.from(i32.attentionMask.subarray(77, 80))).toEqual([1, 1, 0]);
    expect(Array.from(i64.inputIds, Number)).toEqual(Array.from(i32.inputIds));
    expect(Array.from(i64.attentionMask, Number)).toEqual(Array.from(i32.attentionMask));
  });

  it('reads model_max_length from tokenizer_config.json', () => {
    const dir = tokenizerFolder({ 'vocab.json': vocabJson, 'merges.txt': mergesTxt, 'tokenizer_config.json': '{"model_max_length": 8}' });
    const { ids, length } = ClipTokenizer.fromFolder(dir).encode('one two three four five six seven');
    expect(ids).toHaveLength(8);
    expect(length).toBe(8);
    expect(ids.at(-1)).toBe(49407);
  });
});

describe('tokenizer files are validated', () => {
  const tiny = { 'vocab.json': vocabJson, 'merges.txt': mergesTxt };
  const load = (files: Record<string, string>) => () => ClipTokenizer.fromFolder(tokenizerFolder(files));

  it('names the missing file', () => {
    expect(load({ 'vocab.json': vocabJson })).toThrow(/no merges\.txt/);
    expect(load({ 'merges.txt': mergesTxt })).toThrow(/no vocab\.json/);
  });

  it('rejects a vocab that is not a string -> integer map', () => {
    expect(load({ ...tiny, 'vocab.json': '{"a": "1"}' })).toThrow(TokenizerFileError);
    expect(load({ ...tiny, 'vocab.json': '{"a": 1.5}' })).toThrow(/vocab\.json must map token strings/);
    expect(load({ ...tiny, 'vocab.json': '[1, 2]' })).toThrow(/vocab\.json/);
    expect(load({ ...tiny, 'vocab.json': '{not json' })).toThrow(/vocab\.json is not valid JSON/);
  });

  it('rejects merges without the header or with malformed pairs', () => {
    expect(load({ ...tiny, 'merges.txt': 'i n\nt h\n' })).toThrow(/merges\.txt must start with a '#version' header/);
    expect(load({ ...tiny, 'merges.txt': '#version: 0.2\ni n\nthree parts here\n' })).toThrow(/merges\.txt line 3/);
    expect(load({ ...tiny, 'merges.txt': '#version: 0.2\n' })).toThrow(/no merge pairs/);
  });

  it('rejects a config naming a special token the vocab lacks', () => {
    expect(load({ ...tiny, 'tokenizer_config.json': '{"pad_token": "<pad>"}' })).toThrow(/pad token "<pad>"/);
    expect(load({ ...tiny, 'tokenizer_config.json': '{"model_max_length": "77"}' })).toThrow(/tokenizer_config\.json/);
  });
});
