/**
 * T5's sentencepiece unigram tokenizer (SD3's tokenizer_3): normalize with the model's precompiled
 * character map, mark word starts with '▁', pick the segmentation with the highest total piece
 * score (Viterbi), map uncovered characters to <unk> (or to <0xNN> byte pieces), append </s>,
 * truncate and pad with <pad>.
 *
 * Two flavors, because the two reference implementations differ on a few inputs:
 * - 'transformers' (default): transformers 5's T5Tokenizer(Fast), which diffusers' SD3 pipelines
 *   call. Special tokens (</s>, <pad>, <unk>, <extra_id_N>) written in the prompt become their
 *   ids; the charsmap is applied per grapheme (tokenizers' Precompiled normalizer); words are split
 *   on Unicode whitespace and each gets its own '▁'; no byte fallback.
 * - 'sentencepiece': SentencePieceProcessor.encode plus </s>. The charsmap is applied by longest
 *   match over the whole text, spaces are collapsed and trimmed per normalizer_spec, scores add in
 *   float32, and byte fallback follows trainer_spec.
 */
import { packTokenRows, padRow, type IdType, type TokenizedBatch } from './token-batch.ts';
import { PrecompiledCharsmap } from './t5-charsmap.ts';
import { type AddedToken, type T5TokenizerFileContents, type T5TokenizerFiles, TokenizerFileError, parseT5TokenizerFiles, readT5TokenizerFolder } from './t5-files.ts';
import { type NormalizerSpec, PieceType } from './t5-sentencepiece-model.ts';

export type { IdType, TokenizedBatch };
export type T5Flavor = 'transformers' | 'sentencepiece';

export interface T5TokenizerOptions {
  /** Padded length including </s>; defaults to tokenizer_config.json's model_max_length, else 77. */
  maxLength?: number;
  flavor?: T5Flavor;
}

/** SD3 pipelines pad T5 prompts to 77 tokens unless told otherwise. */
export const T5_DEFAULT_MAX_LENGTH = 77;
const SPACE_SYMBOL = '\u2581';
// sentencepiece and tokenizers both score an uncovered character this far below the worst piece.
const UNK_PENALTY = 10;
// Rust's char::is_whitespace (Unicode White_Space), which tokenizers' WhitespaceSplit splits on.
const WHITESPACE = /[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;
const BEFORE_SPACE_SYMBOL = /(?=\u2581)/u;
// Bounds memory in a long-running worker; prompts reuse a small set of words.
const WORD_CACHE_LIMIT = 50_000;

interface UnigramModel {
  /** Pieces the segmentation may use. */
  pieces: Map<string, number>;
  scores: Float64Array;
  maxPieceChars: number;
  unkId: number;
  unkScore: number;
  /** Piece ids of <0x00>..<0xFF> when unknown characters fall back to bytes. */
  byteIds: Int32Array | undefined;
  /** sentencepiece keeps path scores in float32; tokenizers in float64. */
  float32: boolean;
  /** sentencepiece scores user-defined pieces as (UTF-8 length * best score - 0.1). */
  userDefined: Set<number>;
  maxScore: number;
}

const utf8 = new TextEncoder();

export class T5Tokenizer {
  readonly flavor: T5Flavor;
  readonly maxLength: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  /** Number of ids the tokenizer can produce (model pieces plus added tokens). */
  readonly vocabSize: number;
  private readonly model: UnigramModel;
  private readonly charsmap: PrecompiledCharsmap | undefined;
  private readonly normalizerSpec: NormalizerSpec | undefined;
  private readonly suffixWhitespace: boolean;
  private readonly addedByFirstChar = new Map<string, AddedToken[]>();
  private readonly wordCache = new Map<string, number[]>();

  constructor(files: T5TokenizerFiles, options: T5TokenizerOptions = {}) {
    this.flavor = options.flavor ?? 'transformers';
    const at = (name: string) => `${files.source}/${name}`;
    const maxLength = options.maxLength ?? files.config.maxLength ?? T5_DEFAULT_MAX_LENGTH;
    if (!Number.isInteger(maxLength) || maxLength < 1) {
      throw new TokenizerFileError(`${at('tokenizer_config.json')}: max length must be an integer >= 1 (room for </s>), got ${maxLength}`);
    }
    this.maxLength = maxLength;

    let vocab: string[];
    let added: AddedToken[] = [];
    this.suffixWhitespace = false;
    if (this.flavor === 'sentencepiece') {
      const spiece = files.spiece;
      if (!spiece) throw new TokenizerFileError(`tokenizer folder ${files.source} has no spiece.model: the sentencepiece flavor needs the sentencepiece model`);
      vocab = spiece.pieces.map((p) => p.piece);
      this.model = sentencePieceModel(files, at('spiece.model'));
      this.normalizerSpec = spiece.normalizer;
      this.suffixWhitespace = spiece.trainer.treatWhitespaceAsSuffix;
      this.charsmap = charsmapOf(spiece.normalizer.precompiledCharsmap, at('spiece.model'));
    } else if (files.fast) {
      vocab = files.fast.vocab.map(([piece]) => piece);
      const unkId = files.fast.unkId ?? vocab.indexOf(files.config.unk);
      if (unkId < 0) throw new TokenizerFileError(`${at('tokenizer.json')} has no model.unk_id and no ${JSON.stringify(files.config.unk)} piece`);
      this.model = unigramModel(files.fast.vocab, unkId, new Set(), false);
      this.charsmap = charsmapOf(files.fast.precompiledCharsmap, at('tokenizer.json'));
      added = files.fast.addedTokens;
    } else {
      const spiece = files.spiece!;
      vocab = spiece.pieces.map((p) => p.piece);
      const unkId = vocab.indexOf(files.config.unk);
      if (unkId < 0) throw new TokenizerFileError(`${at('spiece.model')} has no piece for the unk token ${JSON.stringify(files.config.unk)}`);
      this.model = unigramModel(spiece.pieces.map((p) => [p.piece, p.score]), unkId, new Set(), false);
      this.charsmap = charsmapOf(spiece.normalizer.precompiledCharsmap, at('spiece.model'));
      added = transformersAddedTokens(vocab, files);
    }

    const idOf = (token: string, role: string) => {
      const id = added.find((t) => t.content === token)?.id ?? vocab.indexOf(token);
      if (id < 0) throw new TokenizerFileError(`tokenizer folder ${files.source} has no piece for the ${role} token ${JSON.stringify(token)}`);
      return id;
    };
    this.eosId = idOf(files.config.eos, 'eos');
    this.padId = idOf(files.config.pad, 'pad');
    this.unkId = this.model.unkId;
    this.vocabSize = Math.max(vocab.length, ...added.map((t) => t.id + 1));
    for (const token of added) {
      const first = token.content[0]!;
      const list = this.addedByFirstChar.get(first) ?? [];
      list.push(token);
      list.sort((a, b) => b.content.length - a.content.length);
      this.addedByFirstChar.set(first, list);
    }
  }

  static fromFolder(dir: string, options?: T5TokenizerOptions): T5Tokenizer {
    return new T5Tokenizer(readT5TokenizerFolder(dir), options);
  }

  static fromContents(contents: T5TokenizerFileContents, options?: T5TokenizerOptions): T5Tokenizer {
    return new T5Tokenizer(parseT5TokenizerFiles(contents), options);
  }

  /** The prompt's token ids without </s> and without truncation. */
  encodeText(text: string): number[] {
    if (this.flavor === 'sentencepiece') return this.segment(this.normalizeSentencePiece(text));
    const ids: number[] = [];
    for (const part of this.splitAddedTokens(text)) {
      if (typeof part === 'number') {
        ids.push(part);
        continue;
      }
      const normalized = this.charsmap ? this.charsmap.normalizeGraphemes(part) : part;
      for (const word of normalized.split(WHITESPACE)) {
        if (word === '') continue;
        for (const id of this.encodeWord(word)) ids.push(id);
      }
    }
    return ids;
  }

  /** The prompt's ids truncated to leave room for </s>, then </s>, then padding to maxLength. */
  encode(text: string): { ids: number[]; length: number } {
    return padRow([...this.encodeText(text).slice(0, this.maxLength - 1), this.eosId], this.maxLength, this.padId);
  }

  encodeBatch(texts: readonly string[], idType: 'int32'): TokenizedBatch<Int32Array>;
  encodeBatch(texts: readonly string[], idType: 'int64'): TokenizedBatch<BigInt64Array>;
  encodeBatch(texts: readonly string[], idType: IdType): TokenizedBatch;
  encodeBatch(texts: readonly string[], idType: IdType): TokenizedBatch {
    return packTokenRows(texts.map((text) => this.encode(text)), this.maxLength, idType);
  }

  /** Splits out added tokens, leftmost first and longest at a position, as tokenizers' AddedVocabulary does. */
  private splitAddedTokens(text: string): Array<string | number> {
    if (this.addedByFirstChar.size === 0) return [text];
    const parts: Array<string | number> = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const token = this.addedByFirstChar.get(text[i]!)?.find((t) => text.startsWith(t.content, i));
      if (!token) continue;
      if (i > start) parts.push(text.slice(start, i));
      parts.push(token.id);
      i += token.content.length - 1;
      start = i + 1;
    }
    if (start < text.length) parts.push(text.slice(start));
    return parts;
  }

  /** Metaspace (prepend '▁' unless present, split before every '▁') and Viterbi, per whitespace-free word. */
  private encodeWord(word: string): number[] {
    const cached = this.wordCache.get(word);
    if (cached) return cached;
    const marked = word.startsWith(SPACE_SYMBOL) ? word : SPACE_SYMBOL + word;
    const ids = marked.split(BEFORE_SPACE_SYMBOL).flatMap((piece) => this.segment(piece));
    if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
    this.wordCache.set(word, ids);
    return ids;
  }

  /** sentencepiece's Normalizer::Normalize with the model's normalizer_spec. */
  private normalizeSentencePiece(text: string): string {
    const spec = this.normalizerSpec!;
    const prefixes = this.charsmap ? Array.from(this.charsmap.sentencePiecePrefixes(text)) : Array.from(text);
    const removeExtra = spec.removeExtraWhitespaces;
    const space = spec.escapeWhitespaces ? SPACE_SYMBOL : ' ';
    let i = 0;
    if (removeExtra) while (i < prefixes.length && prefixes[i] === ' ') i++;
    if (i === prefixes.length) return '';
    const suffix = this.suffixWhitespace;
    let out = spec.addDummyPrefix && !suffix ? space : '';
    let prevSpace = removeExtra;
    for (; i < prefixes.length; i++) {
      let piece = prefixes[i]!;
      if (prevSpace) while (piece.startsWith(' ')) piece = piece.slice(1);
      if (piece !== '') {
        out += spec.escapeWhitespaces ? piece.replaceAll(' ', SPACE_SYMBOL) : piece;
        prevSpace = piece.endsWith(' ');
      }
      if (!removeExtra) prevSpace = false;
    }
    if (removeExtra) while (out.endsWith(space)) out = out.slice(0, -space.length);
    if (spec.addDummyPrefix && suffix) out += space;
    return out;
  }

  /** Highest-scoring segmentation; uncovered characters become <unk> (runs fused) or byte pieces. */
  private segment(text: string): number[] {
    const m = this.model;
    const chars = Array.from(text);
    const n = chars.length;
    if (n === 0) return [];
    const score = new Float64Array(n + 1);
    const from = new Int32Array(n + 1).fill(-1);
    const id = new Int32Array(n + 1);
    const add = (a: number, b: number) => (m.float32 ? Math.fround(a + b) : a + b);
    const offer = (start: number, end: number, pieceId: number, pieceScore: number) => {
      const candidate = add(pieceScore, score[start]!);
      if (from[end] === -1 || candidate > score[end]!) {
        score[end] = candidate;
        from[end] = start;
        id[end] = pieceId;
      }
    };
    for (let start = 0; start < n; start++) {
      let key = '';
      let single = false;
      for (let end = start + 1; end <= Math.min(n, start + m.maxPieceChars); end++) {
        key += chars[end - 1];
        const pieceId = m.pieces.get(key);
        if (pieceId === undefined) continue;
        const pieceScore = m.userDefined.has(pieceId) ? Math.fround(utf8.encode(key).length * m.maxScore - 0.1) : m.scores[pieceId]!;
        offer(start, end, pieceId, pieceScore);
        if (end === start + 1) single = true;
      }
      if (!single) offer(start, start + 1, m.unkId, m.unkScore);
    }
    const path: Array<[number, number]> = [];
    for (let end = n; end > 0; end = from[end]!) path.push([from[end]!, end]);
    path.reverse();
    const ids: number[] = [];
    let prevUnk = false;
    for (const [start, end] of path) {
      const pieceId = id[end]!;
      if (pieceId !== m.unkId) {
        ids.push(pieceId);
        prevUnk = false;
      } else if (m.byteIds) {
        for (const byte of utf8.encode(chars.slice(start, end).join(''))) ids.push(m.byteIds[byte]!);
      } else if (!prevUnk) {
        ids.push(pieceId);
        prevUnk = true;
      }
    }
    return ids;
  }
}

function charsmapOf(blob: Uint8Array | undefined, source: string): PrecompiledCharsmap | undefined {
  return blob && blob.length > 0 ? new PrecompiledCharsmap(blob, source) : undefined;
}

function unigramModel(vocab: ReadonlyArray<readonly [string, number]>, unkId: number, exclude: Set<number>, float32: boolean): UnigramModel {
  const pieces = new Map<string, number>();
  const scores = new Float64Array(vocab.length);
  let maxPieceChars = 1;
  let minScore = Infinity;
  vocab.forEach(([piece, s], i) => {
    scores[i] = s;
    if (exclude.has(i) || piece === '') return;
    if (!pieces.has(piece)) pieces.set(piece, i);
    maxPieceChars = Math.max(maxPieceChars, Array.from(piece).length);
    minScore = Math.min(minScore, s);
  });
  if (!Number.isFinite(minScore)) minScore = 0;
  return { pieces, scores, maxPieceChars, unkId, unkScore: minScore - UNK_PENALTY, byteIds: undefined, float32, userDefined: new Set(), maxScore: 0 };
}

/** Pieces as SentencePieceProcessor uses them: only normal and user-defined pieces match text. */
function sentencePieceModel(files: T5TokenizerFiles, file: string): UnigramModel {
  const { pieces, trainer } = files.spiece!;
  const unkId = pieces.findIndex((p) => p.type === PieceType.Unknown);
  if (unkId < 0) throw new TokenizerFileError(`${file} has no piece of type UNKNOWN`);
  const matchable = (t: PieceType) => t === PieceType.Normal || t === PieceType.UserDefined;
  const exclude = new Set(pieces.flatMap((p, i) => (matchable(p.type) ? [] : [i])));
  const model = unigramModel(pieces.map((p) => [p.piece, p.score]), unkId, exclude, true);
  const normal = pieces.filter((p) => p.type === PieceType.Normal).map((p) => p.score);
  const minScore = normal.length ? Math.min(...normal) : 0;
  model.maxScore = normal.length ? Math.max(...normal) : 0;
  model.unkScore = Math.fround(minScore - UNK_PENALTY);
  model.userDefined = new Set(pieces.flatMap((p, i) => (p.type === PieceType.UserDefined ? [i] : [])));
  if (trainer.byteFallback) {
    const byteIds = new Int32Array(256).fill(unkId);
    pieces.forEach((p, i) => {
      const match = p.type === PieceType.Byte ? /^<0x([0-9A-F]{2})>$/.exec(p.piece) : null;
      if (match) byteIds[parseInt(match[1]!, 16)] = i;
    });
    model.byteIds = byteIds;
  }
  return model;
}

/**
 * The added tokens transformers' T5Tokenizer gives a folder with only spiece.model: the config's
 * added_tokens_decoder when present, else pad/eos/unk, then <extra_id_N> sentinels appended in
 * reverse order (N = extra_ids - 1 first), then additional_special_tokens not yet in the vocab.
 */
function transformersAddedTokens(vocab: readonly string[], files: T5TokenizerFiles): AddedToken[] {
  const { config } = files;
  if (config.addedTokensDecoder) return config.addedTokensDecoder;
  const known = new Map(vocab.map((piece, i) => [piece, i] as const));
  const out: AddedToken[] = [];
  let next = vocab.length;
  const add = (content: string) => {
    if (!out.some((t) => t.content === content)) out.push({ id: known.get(content) ?? next++, content });
  };
  for (const token of [config.pad, config.eos, config.unk]) add(token);
  const sentinels = Array.from({ length: config.extraIds }, (_, k) => `<extra_id_${config.extraIds - 1 - k}>`);
  const hasSentinels = config.additionalSpecialTokens.some((t) => t.startsWith('<extra_id_'));
  for (const token of hasSentinels ? [] : sentinels) add(token);
  for (const token of config.additionalSpecialTokens) add(token);
  return out;
}
