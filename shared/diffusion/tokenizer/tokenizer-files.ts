/**
 * The files of a Hugging Face CLIP tokenizer folder, read and validated: vocab.json, merges.txt
 * and, when present, tokenizer_config.json and special_tokens_map.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export class TokenizerFileError extends Error {
  override name = 'TokenizerFileError';
}

const Vocab = z.record(z.string(), z.number().int().nonnegative());

/** transformers writes special tokens either as plain strings or as serialized AddedToken objects. */
const SpecialToken = z.union([z.string(), z.looseObject({ content: z.string() })]).nullable();

const TokenizerConfig = z.looseObject({
  model_max_length: z.number().positive().optional(),
  bos_token: SpecialToken.optional(),
  eos_token: SpecialToken.optional(),
  pad_token: SpecialToken.optional(),
  unk_token: SpecialToken.optional(),
});

export interface SpecialTokens {
  bos: string;
  eos: string;
  pad: string;
  unk: string;
}

export interface TokenizerFiles {
  vocab: Map<string, number>;
  /** Merge pairs in rank order (first = applied first). */
  merges: Array<[string, string]>;
  special: SpecialTokens;
  /** From model_max_length; undefined when the config sets none (or transformers' "unbounded" sentinel). */
  maxLength: number | undefined;
}

/** Raw file contents; config files are optional. `source` names the folder in errors. */
export interface TokenizerFileTexts {
  source: string;
  vocabJson: string;
  mergesTxt: string;
  tokenizerConfigJson?: string;
  specialTokensMapJson?: string;
}

// transformers stores int(1e30) when a tokenizer has no length limit.
const UNBOUNDED_LENGTH = 1e9;

const DEFAULT_SPECIAL: SpecialTokens = {
  bos: '<|startoftext|>',
  eos: '<|endoftext|>',
  pad: '<|endoftext|>',
  unk: '<|endoftext|>',
};

export function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TokenizerFileError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
}

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

export function parseVocab(text: string, file: string): Map<string, number> {
  const parsed = Vocab.safeParse(parseJson(text, file));
  if (!parsed.success) {
    throw new TokenizerFileError(`${file} must map token strings to non-negative integer ids: ${describeIssues(parsed.error)}`);
  }
  return new Map(Object.entries(parsed.data));
}

export function parseMerges(text: string, file: string): Array<[string, string]> {
  const lines = text.split('\n');
  if (!lines[0]?.startsWith('#version')) {
    throw new TokenizerFileError(`${file} must start with a '#version' header line, found ${JSON.stringify((lines[0] ?? '').slice(0, 40))}`);
  }
  const merges: Array<[string, string]> = [];
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]!.replace(/\r$/, '');
    if (line === '') continue;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new TokenizerFileError(`${file} line ${n + 1}: expected two symbols separated by one space, found ${JSON.stringify(line.slice(0, 60))}`);
    }
    merges.push([parts[0]!, parts[1]!]);
  }
  if (merges.length === 0) throw new TokenizerFileError(`${file} has a header but no merge pairs`);
  return merges;
}

type Config = z.infer<typeof TokenizerConfig>;

function parseConfig(text: string | undefined, file: string): Config {
  if (text === undefined) return {};
  const parsed = TokenizerConfig.safeParse(parseJson(text, file));
  if (!parsed.success) throw new TokenizerFileError(`${file} has unexpected fields: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

function tokenContent(token: z.infer<typeof SpecialToken> | undefined): string | undefined {
  if (token === undefined || token === null) return undefined;
  return typeof token === 'string' ? token : token.content;
}

/** tokenizer_config.json wins over special_tokens_map.json, as in current transformers. */
export function parseTokenizerFiles(texts: TokenizerFileTexts): TokenizerFiles {
  const at = (name: string) => join(texts.source, name);
  const vocab = parseVocab(texts.vocabJson, at('vocab.json'));
  const merges = parseMerges(texts.mergesTxt, at('merges.txt'));
  const config = parseConfig(texts.tokenizerConfigJson, at('tokenizer_config.json'));
  const map = parseConfig(texts.specialTokensMapJson, at('special_tokens_map.json'));
  const pick = (key: 'bos_token' | 'eos_token' | 'pad_token' | 'unk_token', fallback: string) =>
    tokenContent(config[key]) ?? tokenContent(map[key]) ?? fallback;
  const special: SpecialTokens = {
    bos: pick('bos_token', DEFAULT_SPECIAL.bos),
    eos: pick('eos_token', DEFAULT_SPECIAL.eos),
    pad: pick('pad_token', DEFAULT_SPECIAL.pad),
    unk: pick('unk_token', DEFAULT_SPECIAL.unk),
  };
  for (const [role, token] of Object.entries(special)) {
    if (!vocab.has(token)) {
      throw new TokenizerFileError(`${at('vocab.json')} has no entry for the ${role} token ${JSON.stringify(token)} named by the tokenizer config`);
    }
  }
  const length = config.model_max_length;
  const maxLength = length === undefined || length >= UNBOUNDED_LENGTH ? undefined : length;
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 2)) {
    throw new TokenizerFileError(`${at('tokenizer_config.json')}: model_max_length must be an integer >= 2 (room for the start and end tokens), got ${maxLength}`);
  }
  return { vocab, merges, special, maxLength };
}

function readOptional(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

export function readTokenizerFolder(dir: string): TokenizerFiles {
  const required = (name: string, what: string) => {
    const file = join(dir, name);
    if (!existsSync(file)) throw new TokenizerFileError(`tokenizer folder ${dir} has no ${name}: expected ${what}`);
    return readFileSync(file, 'utf8');
  };
  return parseTokenizerFiles({
    source: dir,
    vocabJson: required('vocab.json', 'a JSON map from BPE token to id'),
    mergesTxt: required('merges.txt', "a '#version' header followed by one merge pair per line"),
    tokenizerConfigJson: readOptional(join(dir, 'tokenizer_config.json')),
    specialTokensMapJson: readOptional(join(dir, 'special_tokens_map.json')),
  });
}
