/**
 * The files of a Hugging Face T5 tokenizer folder, read and validated: spiece.model (sentencepiece
 * ModelProto) and/or tokenizer.json (the fast tokenizer's Unigram model), plus tokenizer_config.json
 * and special_tokens_map.json when present.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { TokenizerFileError, describeIssues, parseJson } from './tokenizer-files.ts';
import { type SentencePieceModel, SentencePieceModelError, parseSentencePieceModel } from './t5-sentencepiece-model.ts';

export { TokenizerFileError };

const SpecialToken = z.union([z.string(), z.looseObject({ content: z.string() })]).nullable();

const T5Config = z.looseObject({
  model_max_length: z.number().positive().optional(),
  eos_token: SpecialToken.optional(),
  pad_token: SpecialToken.optional(),
  unk_token: SpecialToken.optional(),
  extra_ids: z.number().int().nonnegative().optional(),
  additional_special_tokens: z.array(SpecialToken).nullable().optional(),
  added_tokens_decoder: z.record(z.string().regex(/^\d+$/), z.looseObject({ content: z.string(), special: z.boolean().optional() })).optional(),
});

const NormalizerJson: z.ZodType<NormalizerJson> = z.lazy(() =>
  z.looseObject({
    type: z.string(),
    precompiled_charsmap: z.string().nullable().optional(),
    normalizers: z.array(NormalizerJson).optional(),
  }),
);
interface NormalizerJson {
  type: string;
  precompiled_charsmap?: string | null | undefined;
  normalizers?: NormalizerJson[] | undefined;
}

const TokenizerJson = z.looseObject({
  added_tokens: z.array(z.looseObject({ id: z.number().int().nonnegative(), content: z.string().min(1), special: z.boolean().optional() })).optional(),
  normalizer: NormalizerJson.nullable().optional(),
  model: z.looseObject({
    type: z.literal('Unigram'),
    vocab: z.array(z.tuple([z.string(), z.number()])).min(1),
    unk_id: z.number().int().nonnegative().nullable().optional(),
    byte_fallback: z.boolean().optional(),
  }),
});

export interface AddedToken {
  id: number;
  content: string;
}

/** What tokenizer.json contributes: the Unigram vocabulary, its charsmap and the added (special) tokens. */
export interface FastTokenizerFile {
  vocab: Array<[string, number]>;
  unkId: number | undefined;
  byteFallback: boolean;
  /** From the Precompiled normalizer; undefined when tokenizer.json has none. */
  precompiledCharsmap: Uint8Array | undefined;
  addedTokens: AddedToken[];
}

export interface T5Config {
  /** From model_max_length; undefined when unset or transformers' "unbounded" sentinel. */
  maxLength: number | undefined;
  eos: string;
  pad: string;
  unk: string;
  extraIds: number;
  additionalSpecialTokens: string[];
  /** id -> content from tokenizer_config.json's added_tokens_decoder, when present. */
  addedTokensDecoder: AddedToken[] | undefined;
}

export interface T5TokenizerFiles {
  source: string;
  spiece: SentencePieceModel | undefined;
  fast: FastTokenizerFile | undefined;
  config: T5Config;
}

/** Raw file contents; any of the two model files may be missing but not both. */
export interface T5TokenizerFileContents {
  source: string;
  spieceModel?: Uint8Array;
  tokenizerJson?: string;
  tokenizerConfigJson?: string;
  specialTokensMapJson?: string;
}

// transformers stores int(1e30) when a tokenizer has no length limit.
const UNBOUNDED_LENGTH = 1e9;

function tokenContent(token: z.infer<typeof SpecialToken> | undefined): string | undefined {
  if (token === undefined || token === null) return undefined;
  return typeof token === 'string' ? token : token.content;
}

function findCharsmap(normalizer: NormalizerJson | null | undefined): string | undefined {
  if (!normalizer) return undefined;
  if (normalizer.type === 'Precompiled') return normalizer.precompiled_charsmap ?? undefined;
  for (const inner of normalizer.normalizers ?? []) {
    const found = findCharsmap(inner);
    if (found !== undefined) return found;
  }
  return undefined;
}

export function parseTokenizerJson(text: string, file: string): FastTokenizerFile {
  const parsed = TokenizerJson.safeParse(parseJson(text, file));
  if (!parsed.success) {
    throw new TokenizerFileError(`${file} is not a Unigram (sentencepiece) fast tokenizer: ${describeIssues(parsed.error)}`);
  }
  const { model, normalizer, added_tokens } = parsed.data;
  const unkId = model.unk_id ?? undefined;
  if (unkId !== undefined && unkId >= model.vocab.length) {
    throw new TokenizerFileError(`${file}: model.unk_id ${unkId} is outside the ${model.vocab.length}-entry vocab`);
  }
  const charsmap = findCharsmap(normalizer);
  return {
    vocab: model.vocab,
    unkId,
    byteFallback: model.byte_fallback ?? false,
    precompiledCharsmap: charsmap ? new Uint8Array(Buffer.from(charsmap, 'base64')) : undefined,
    addedTokens: (added_tokens ?? []).map(({ id, content }) => ({ id, content })),
  };
}

type ConfigJson = z.infer<typeof T5Config>;

function parseConfig(text: string | undefined, file: string): ConfigJson {
  if (text === undefined) return {};
  const parsed = T5Config.safeParse(parseJson(text, file));
  if (!parsed.success) throw new TokenizerFileError(`${file} has unexpected fields: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** tokenizer_config.json wins over special_tokens_map.json, as in current transformers. */
export function parseT5Config(configText: string | undefined, mapText: string | undefined, source: string): T5Config {
  const configFile = join(source, 'tokenizer_config.json');
  const config = parseConfig(configText, configFile);
  const map = parseConfig(mapText, join(source, 'special_tokens_map.json'));
  const pick = (key: 'eos_token' | 'pad_token' | 'unk_token', fallback: string) => tokenContent(config[key]) ?? tokenContent(map[key]) ?? fallback;
  const length = config.model_max_length;
  const maxLength = length === undefined || length >= UNBOUNDED_LENGTH ? undefined : length;
  if (maxLength !== undefined && !Number.isInteger(maxLength)) {
    throw new TokenizerFileError(`${configFile}: model_max_length must be an integer, got ${maxLength}`);
  }
  const additional = config.additional_special_tokens ?? map.additional_special_tokens ?? [];
  const decoder = config.added_tokens_decoder;
  return {
    maxLength,
    eos: pick('eos_token', '</s>'),
    pad: pick('pad_token', '<pad>'),
    unk: pick('unk_token', '<unk>'),
    extraIds: config.extra_ids ?? 100,
    additionalSpecialTokens: additional.map(tokenContent).filter((t): t is string => t !== undefined),
    addedTokensDecoder: decoder && Object.entries(decoder).map(([id, token]) => ({ id: Number(id), content: token.content })),
  };
}

export function parseT5TokenizerFiles(contents: T5TokenizerFileContents): T5TokenizerFiles {
  const at = (name: string) => join(contents.source, name);
  if (contents.spieceModel === undefined && contents.tokenizerJson === undefined) {
    throw new TokenizerFileError(`tokenizer folder ${contents.source} has neither spiece.model nor tokenizer.json: expected a sentencepiece model or a Unigram fast tokenizer`);
  }
  let spiece: SentencePieceModel | undefined;
  if (contents.spieceModel !== undefined) {
    try {
      spiece = parseSentencePieceModel(contents.spieceModel, at('spiece.model'));
    } catch (e) {
      if (e instanceof SentencePieceModelError) throw new TokenizerFileError(e.message);
      throw e;
    }
  }
  const fast = contents.tokenizerJson === undefined ? undefined : parseTokenizerJson(contents.tokenizerJson, at('tokenizer.json'));
  const config = parseT5Config(contents.tokenizerConfigJson, contents.specialTokensMapJson, contents.source);
  return { source: contents.source, spiece, fast, config };
}

function readOptional(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

export function readT5TokenizerFolder(dir: string): T5TokenizerFiles {
  const spiecePath = join(dir, 'spiece.model');
  return parseT5TokenizerFiles({
    source: dir,
    spieceModel: existsSync(spiecePath) ? new Uint8Array(readFileSync(spiecePath)) : undefined,
    tokenizerJson: readOptional(join(dir, 'tokenizer.json')),
    tokenizerConfigJson: readOptional(join(dir, 'tokenizer_config.json')),
    specialTokensMapJson: readOptional(join(dir, 'special_tokens_map.json')),
  });
}
