/**
 * CLIP's byte-level BPE tokenizer, giving the ids Hugging Face's CLIPTokenizer gives for Stable
 * Diffusion prompts: clean the text, split it into words, BPE each word's UTF-8 bytes (the last
 * symbol carries '</w>'), wrap in <|startoftext|> ... <|endoftext|>, truncate and pad.
 */
import { END_OF_TEXT, START_OF_TEXT, byteSymbols, cleanPromptText, splitWords } from './clip-text.ts';
import { type SpecialTokens, type TokenizerFileTexts, type TokenizerFiles, parseTokenizerFiles, readTokenizerFolder } from './tokenizer-files.ts';
import { packTokenRows, padRow, type IdType, type TokenizedBatch } from './token-batch.ts';

/** CLIP's text encoders have 77 position embeddings. */
export const CLIP_MAX_LENGTH = 77;
const END_OF_WORD = '</w>';
// Bounds memory in a long-running worker; prompts reuse a small set of words.
const WORD_CACHE_LIMIT = 50_000;

export type { IdType, TokenizedBatch };

export class ClipTokenizer {
  readonly maxLength: number;
  readonly special: SpecialTokens;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  private readonly unkId: number;
  private readonly vocab: Map<string, number>;
  private readonly mergeRanks: Map<string, number>;
  private readonly byteToSymbol = byteSymbols();
  private readonly utf8 = new TextEncoder();
  private readonly wordCache = new Map<string, number[]>();

  constructor(files: TokenizerFiles) {
    this.vocab = files.vocab;
    this.special = files.special;
    this.maxLength = files.maxLength ?? CLIP_MAX_LENGTH;
    // Symbols never contain a space (byte 0x20 maps to another symbol), so a space joins a pair unambiguously.
    this.mergeRanks = new Map(files.merges.map(([a, b], rank) => [`${a} ${b}`, rank]));
    const id = (token: string) => files.vocab.get(token)!;
    this.bosId = id(files.special.bos);
    this.eosId = id(files.special.eos);
    this.padId = id(files.special.pad);
    this.unkId = id(files.special.unk);
  }

  static fromFolder(dir: string): ClipTokenizer {
    return new ClipTokenizer(readTokenizerFolder(dir));
  }

  static fromTexts(texts: TokenizerFileTexts): ClipTokenizer {
    return new ClipTokenizer(parseTokenizerFiles(texts));
  }

  /** The prompt's token ids without the start/end tokens and without truncation. */
  encodeText(text: string): number[] {
    const ids: number[] = [];
    for (const word of splitWords(cleanPromptText(text))) {
      if (word === START_OF_TEXT || word === END_OF_TEXT) {
        ids.push(this.vocab.get(word) ?? this.unkId);
        continue;
      }
      for (const tokenId of this.encodeWord(word)) ids.push(tokenId);
    }
    return ids;
  }

  /** Start token, the prompt's ids truncated to fit, end token, then padding to maxLength. */
  encode(text: string): { ids: number[]; length: number } {
    return padRow([this.bosId, ...this.encodeText(text).slice(0, this.maxLength - 2), this.eosId], this.maxLength, this.padId);
  }

  encodeBatch(texts: readonly string[], idType: 'int32'): TokenizedBatch<Int32Array>;
  encodeBatch(texts: readonly string[], idType: 'int64'): TokenizedBatch<BigInt64Array>;
  encodeBatch(texts: readonly string[], idType: IdType): TokenizedBatch;
  encodeBatch(texts: readonly string[], idType: IdType): TokenizedBatch {
    return packTokenRows(texts.map((text) => this.encode(text)), this.maxLength, idType);
  }

  private encodeWord(word: string): number[] {
    const cached = this.wordCache.get(word);
    if (cached) return cached;
    const symbols = Array.from(this.utf8.encode(word), (b) => this.byteToSymbol[b]!);
    symbols[symbols.length - 1] += END_OF_WORD;
    const ids = this.applyMerges(symbols).map((token) => this.vocab.get(token) ?? this.unkId);
    if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
    this.wordCache.set(word, ids);
    return ids;
  }

  /** Repeatedly merges every occurrence of the lowest-ranked adjacent pair, left to right. */
  private applyMerges(symbols: string[]): string[] {
    let word = symbols;
    while (word.length > 1) {
      let best: string | undefined;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.mergeRanks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = `${word[i]} ${word[i + 1]}`;
        }
      }
      if (best === undefined) break;
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i < word.length - 1 && `${word[i]} ${word[i + 1]}` === best) {
          merged.push(word[i]! + word[i + 1]!);
          i++;
        } else {
          merged.push(word[i]!);
        }
      }
      word = merged;
    }
    return word;
  }
}
