import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenizerFileError } from './t5-files.ts';
import { PieceType, parseSentencePieceModel } from './t5-sentencepiece-model.ts';
import { T5Tokenizer } from './t5-tokenizer.ts';

const testdata = join(import.meta.dirname, 'testdata', 't5');
const spieceModel = readFileSync(join(testdata, 'spiece.model'));
const configJson = readFileSync(join(testdata, 'tokenizer_config.json'), 'utf8');
const tokenizerJson = gunzipSync(readFileSync(join(testdata, 'fast', 'tokenizer.json.gz'))).toString('utf8');

interface Case {
  text: string;
  /** SentencePieceProcessor.encode. */
  sp: number[];
  /** The same with the byte-fallback model. */
  spBytes: number[];
  /** T5TokenizerFast, untruncated, with </s>. */
  fast: number[];
  /** T5TokenizerFast of the byte-fallback model, untruncated, with </s>. */
  fastBytes: number[];
  /** T5TokenizerFast padded and truncated to maxLength. */
  ids: number[];
  mask: number[];
}
const vectors = JSON.parse(readFileSync(join(testdata, 'prompts.json'), 'utf8')) as { maxLength: number; vocabSize: number; fastVocabSize: number; cases: Case[] };

const folders: string[] = [];
function tokenizerFolder(files: Record<string, string | Uint8Array>): string {
  const dir = mkdtempSync(join(tmpdir(), 't5-tokenizer-'));
  folders.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
afterAll(() => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const fromSpiece = T5Tokenizer.fromFolder(tokenizerFolder({ 'spiece.model': spieceModel, 'tokenizer_config.json': configJson }));
const fromJson = T5Tokenizer.fromFolder(tokenizerFolder({ 'tokenizer.json': tokenizerJson, 'tokenizer_config.json': configJson }));
const sentencepiece = T5Tokenizer.fromFolder(testdata, { flavor: 'sentencepiece' });
const bytesFolder = tokenizerFolder({ 'spiece.model': readFileSync(join(testdata, 'bytes', 'spiece.model')), 'tokenizer_config.json': configJson });

const show = (c: Case) => JSON.stringify(c.text);

describe('sentencepiece model file', () => {
  it('reads pieces, special types and the nmt_nfkc normalizer spec', () => {
    const model = parseSentencePieceModel(spieceModel, 'spiece.model');
    expect(model.pieces).toHaveLength(vectors.vocabSize);
    expect(model.pieces.slice(0, 3).map((p) => [p.piece, p.type])).toEqual([
      ['<pad>', PieceType.Control],
      ['</s>', PieceType.Control],
      ['<unk>', PieceType.Unknown],
    ]);
    expect(model.pieces[3]!.score).toBeLessThan(0);
    expect(model.trainer).toMatchObject({ modelType: 1, byteFallback: false, unkId: 2, bosId: -1, eosId: 1, padId: 0 });
    expect(model.normalizer).toMatchObject({ name: 'nmt_nfkc', addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true });
    expect(model.normalizer.precompiledCharsmap.length).toBeGreaterThan(1000);
  });

  it('reads byte pieces and the byte_fallback flag', () => {
    const model = parseSentencePieceModel(readFileSync(join(testdata, 'bytes', 'spiece.model')), 'bytes/spiece.model');
    expect(model.trainer.byteFallback).toBe(true);
    expect(model.pieces.filter((p) => p.type === PieceType.Byte)).toHaveLength(256);
  });
});

describe('T5Tokenizer against sentencepiece', () => {
  it(`matches SentencePieceProcessor.encode on all ${vectors.cases.length} prompts`, () => {
    const mismatches = vectors.cases.filter((c) => JSON.stringify(sentencepiece.encodeText(c.text)) !== JSON.stringify(c.sp));
    expect(mismatches.map(show)).toEqual([]);
    expect(vectors.cases.length).toBeGreaterThanOrEqual(150);
  });

  it('matches byte fallback (unknown characters as <0xNN> pieces)', () => {
    const bytes = T5Tokenizer.fromFolder(bytesFolder, { flavor: 'sentencepiece' });
    const mismatches = vectors.cases.filter((c) => JSON.stringify(bytes.encodeText(c.text)) !== JSON.stringify(c.spBytes));
    expect(mismatches.map(show)).toEqual([]);
  });

  it('appends </s> and pads like the transformers flavor', () => {
    const { ids, length } = sentencepiece.encode('a photo of a cat');
    expect(ids).toHaveLength(vectors.maxLength);
    expect(ids.slice(0, length)).toEqual([...vectors.cases.find((c) => c.text === 'a photo of a cat')!.sp, 1]);
    expect(ids.slice(length).every((id) => id === 0)).toBe(true);
  });
});

describe('T5Tokenizer against transformers T5TokenizerFast', () => {
  for (const [name, tok] of [
    ['spiece.model', fromSpiece],
    ['tokenizer.json', fromJson],
  ] as const) {
    it(`from ${name}: matches untruncated ids on all prompts`, () => {
      const mismatches = vectors.cases.filter((c) => JSON.stringify([...tok.encodeText(c.text), tok.eosId]) !== JSON.stringify(c.fast));
      expect(mismatches.map(show)).toEqual([]);
      expect(vectors.cases.some((c) => c.fast.length > vectors.maxLength)).toBe(true);
    });

    it(`from ${name}: matches padded, truncated ids and masks`, () => {
      const batch = tok.encodeBatch(
        vectors.cases.map((c) => c.text),
        'int32',
      );
      const L = vectors.maxLength;
      expect(batch.dims).toEqual([vectors.cases.length, L]);
      const mismatches = vectors.cases.filter((c, row) => {
        const ids = Array.from(batch.inputIds.subarray(row * L, (row + 1) * L));
        const mask = Array.from(batch.attentionMask.subarray(row * L, (row + 1) * L));
        return JSON.stringify(ids) !== JSON.stringify(c.ids) || JSON.stringify(mask) !== JSON.stringify(c.mask);
      });
      expect(mismatches.map(show)).toEqual([]);
    });
  }

  it('gives the byte-fallback model <unk> for unknown characters, as transformers 5 does', () => {
    const bytes = T5Tokenizer.fromFolder(bytesFolder);
    const mismatches = vectors.cases.filter((c) => JSON.stringify([...bytes.encodeText(c.text), bytes.eosId]) !== JSON.stringify(c.fastBytes));
    expect(mismatches.map(show)).toEqual([]);
  });

  it('has T5 special ids and counts the sentinels in its vocab', () => {
    expect([fromSpiece.padId, fromSpiece.eosId, fromSpiece.unkId, fromSpiece.maxLength]).toEqual([0, 1, 2, vectors.maxLength]);
    expect(fromSpiece.vocabSize).toBe(vectors.fastVocabSize);
    expect(fromJson.vocabSize).toBe(vectors.fastVocabSize);
    expect(fromSpiece.encodeText('<extra_id_0></s>')).toEqual([vectors.fastVocabSize - 1, 1]);
  });

  it('documents where the two references differ: special tokens in text, whitespace, grapheme-wise normalization', () => {
    const differ = vectors.cases.filter((c) => JSON.stringify([...c.sp, 1]) !== JSON.stringify(c.fast)).map((c) => c.text);
    expect(differ).toEqual([
      '\uff21\u0301 fullwidth A with combining acute',
      'next\u0085line and line\u2028separator and para\u2029graph',
      '</s> at the start',
      'a </s> in the middle and at the end </s>',
      '<pad><unk></s>',
      'glued</s>token',
      '<extra_id_0> sentinel <extra_id_99> and <extra_id_100>',
    ]);
  });
});

describe('T5Tokenizer options and batches', () => {
  it('returns [batch, maxLength] ids and masks as Int32Array or BigInt64Array', () => {
    const texts = ['a photo of a cat', ''];
    const i32 = fromSpiece.encodeBatch(texts, 'int32');
    const i64 = fromSpiece.encodeBatch(texts, 'int64');
    expect(i32.dims).toEqual([2, vectors.maxLength]);
    expect(i32.inputIds).toBeInstanceOf(Int32Array);
    expect(i64.inputIds).toBeInstanceOf(BigInt64Array);
    expect(Array.from(i32.inputIds.subarray(vectors.maxLength, vectors.maxLength + 2))).toEqual([1, 0]);
    expect(Array.from(i32.attentionMask.subarray(vectors.maxLength, vectors.maxLength + 2))).toEqual([1, 0]);
    expect(Array.from(i64.inputIds, Number)).toEqual(Array.from(i32.inputIds));
    expect(Array.from(i64.attentionMask, Number)).toEqual(Array.from(i32.attentionMask));
  });

  it('takes maxLength from the option, else the config, else 77', () => {
    const noConfig = T5Tokenizer.fromFolder(tokenizerFolder({ 'spiece.model': spieceModel }));
    expect(noConfig.maxLength).toBe(77);
    const long = T5Tokenizer.fromFolder(testdata, { maxLength: 256 });
    expect(long.encode('a photo of a cat').ids).toHaveLength(256);
    const short = T5Tokenizer.fromFolder(testdata, { maxLength: 4 });
    const { ids, length } = short.encode('one two three four five six seven');
    expect(length).toBe(4);
    expect(ids.at(-1)).toBe(1);
  });
});

describe('T5 tokenizer files are validated', () => {
  const load = (files: Record<string, string | Uint8Array>, flavor?: 'sentencepiece') => () => T5Tokenizer.fromFolder(tokenizerFolder(files), { flavor });

  it('names the missing files', () => {
    expect(load({ 'tokenizer_config.json': configJson })).toThrow(/neither spiece\.model nor tokenizer\.json/);
    expect(load({ 'tokenizer.json': tokenizerJson }, 'sentencepiece')).toThrow(/no spiece\.model/);
  });

  it('rejects a spiece.model that is not a unigram sentencepiece model', () => {
    expect(load({ 'spiece.model': new Uint8Array([0x0a, 0x05, 0x01]) })).toThrow(/spiece\.model is not a sentencepiece model/);
    expect(load({ 'spiece.model': new Uint8Array(0) })).toThrow(/spiece\.model is not a sentencepiece model: it has no pieces/);
    // trainer_spec { model_type: BPE } after one piece.
    const bpe = new Uint8Array([0x0a, 0x03, 0x0a, 0x01, 0x61, 0x12, 0x02, 0x18, 0x02]);
    expect(load({ 'spiece.model': bpe })).toThrow(/spiece\.model is a sentencepiece model of type 2/);
    expect(load({ 'spiece.model': bpe })).toThrow(TokenizerFileError);
  });

  it('rejects a tokenizer.json that is not a Unigram tokenizer', () => {
    expect(load({ 'tokenizer.json': '{"model": {"type": "BPE", "vocab": {}}}' })).toThrow(/tokenizer\.json is not a Unigram/);
    expect(load({ 'tokenizer.json': '{"model": {"type": "Unigram", "vocab": [["a", "x"]]}}' })).toThrow(/tokenizer\.json.*model\.vocab/);
    expect(load({ 'tokenizer.json': '{oops' })).toThrow(/tokenizer\.json is not valid JSON/);
  });

  it('rejects configs with wrong types or special tokens the vocab lacks', () => {
    expect(load({ 'spiece.model': spieceModel, 'tokenizer_config.json': '{"model_max_length": "77"}' })).toThrow(/tokenizer_config\.json has unexpected fields/);
    expect(load({ 'spiece.model': spieceModel, 'tokenizer_config.json': '{"unk_token": "<nope>"}' })).toThrow(/unk token "<nope>"/);
    expect(() => T5Tokenizer.fromFolder(testdata, { maxLength: 0 })).toThrow(/max length must be an integer >= 1/);
  });
});

const fixtureRoot = join(import.meta.dirname, '..', '..', '..', 'models', 'fixtures');
const sd3Fixtures = existsSync(fixtureRoot)
  ? readdirSync(fixtureRoot).filter((name) => name.startsWith('sd3-') && existsSync(join(fixtureRoot, name, 'tokenizer_3')))
  : [];

describe.skipIf(sd3Fixtures.length === 0)('SD3 fixture tokenizer_3 folders', () => {
  for (const name of sd3Fixtures) {
    it(`${name}: loads and gives ids inside text_encoder_3's vocab`, () => {
      const dir = join(fixtureRoot, name, 'tokenizer_3');
      const tok = T5Tokenizer.fromFolder(dir);
      const configPath = join(fixtureRoot, name, 'text_encoder_3', 'config.json');
      const vocabSize = existsSync(configPath) ? (JSON.parse(readFileSync(configPath, 'utf8')) as { vocab_size: number }).vocab_size : tok.vocabSize;
      const batch = tok.encodeBatch(['a red fox sitting on the snowy mountains, oil painting', '', 'caf\u00e9 \u65e5\u672c \u{1f600}'], 'int64');
      const ids = Array.from(batch.inputIds, Number);
      expect(Math.max(...ids)).toBeLessThan(vocabSize);
      expect(Math.min(...ids)).toBeGreaterThanOrEqual(0);
      expect(ids[batch.dims[1]]).toBe(tok.eosId);
      // The sentencepiece flavor reads the same folder the same way on plain captions.
      const sp = T5Tokenizer.fromFolder(dir, { flavor: 'sentencepiece' });
      expect(sp.encode('a red fox sitting on the snowy mountains, oil painting')).toEqual(tok.encode('a red fox sitting on the snowy mountains, oil painting'));
    });
  }
});
