/**
 * A sentencepiece precompiled character map (normalizer_spec.precompiled_charsmap, also the
 * "Precompiled" normalizer of tokenizer.json). Layout: uint32 LE byte size of a darts-clone
 * double-array trie, the trie's 32-bit units, then NUL-terminated replacement strings; a key is
 * the UTF-8 of an input sequence and its value the offset of the replacement. The nmt_nfkc rule
 * compiles NFKC plus sentencepiece's whitespace and control-character rules into this map, so
 * applying the map reproduces sentencepiece's normalization exactly, where String.normalize('NFKC')
 * would only approximate it.
 */

export class CharsmapError extends Error {
  override name = 'CharsmapError';
}

const utf8 = new TextEncoder();
const decoder = new TextDecoder();
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
// spm_precompiled only maps a whole grapheme when its UTF-8 is shorter than this many bytes.
const GRAPHEME_BYTE_LIMIT = 6;

export class PrecompiledCharsmap {
  private readonly units: Uint32Array;
  private readonly strings: Uint8Array;
  private readonly cache = new Map<number, string>();

  constructor(blob: Uint8Array, source: string) {
    if (blob.length < 4) throw new CharsmapError(`${source}: precompiled charsmap is ${blob.length} bytes, too short for its header`);
    const trieBytes = new DataView(blob.buffer, blob.byteOffset, 4).getUint32(0, true);
    if (trieBytes % 4 !== 0 || trieBytes === 0 || 4 + trieBytes > blob.length) {
      throw new CharsmapError(`${source}: precompiled charsmap declares a ${trieBytes}-byte trie in a ${blob.length}-byte blob`);
    }
    // Copy so the units are 4-byte aligned whatever the blob's offset in its file.
    const trie = blob.slice(4, 4 + trieBytes);
    this.units = new Uint32Array(trie.buffer, 0, trieBytes / 4);
    this.strings = blob.subarray(4 + trieBytes);
  }

  /** Lengths (ascending) of the keys that are prefixes of key[start, end), with their replacement offsets. */
  private prefixMatches(key: Uint8Array, start: number, end: number, out: Array<[number, number]>, firstOnly: boolean): void {
    const units = this.units;
    let pos = offset(units[0]!);
    for (let i = start; i < end; i++) {
      const byte = key[i]!;
      pos ^= byte;
      const unit = units[pos];
      if (unit === undefined || (unit & 0x800000ff) >>> 0 !== byte) return;
      pos ^= offset(unit);
      if ((unit >>> 8) & 1) {
        out.push([i + 1 - start, units[pos]! & 0x7fffffff]);
        if (firstOnly) return;
      }
    }
  }

  private replacement(at: number): string {
    let text = this.cache.get(at);
    if (text === undefined) {
      let end = at;
      while (end < this.strings.length && this.strings[end] !== 0) end++;
      text = decoder.decode(this.strings.subarray(at, end));
      this.cache.set(at, text);
    }
    return text;
  }

  /**
   * sentencepiece's NormalizePrefix over the whole input: at each position the longest matching
   * key is replaced, otherwise one character is copied. Returns the pieces with their input lengths
   * so the caller can apply the whitespace rules per piece, as sentencepiece does.
   */
  *sentencePiecePrefixes(text: string): Generator<string> {
    const bytes = utf8.encode(text);
    const matches: Array<[number, number]> = [];
    let i = 0;
    while (i < bytes.length) {
      matches.length = 0;
      this.prefixMatches(bytes, i, bytes.length, matches, false);
      const longest = matches.at(-1);
      if (longest) {
        yield this.replacement(longest[1]);
        i += longest[0];
      } else {
        const n = utf8Length(bytes[i]!);
        yield decoder.decode(bytes.subarray(i, i + n));
        i += n;
      }
    }
  }

  /**
   * The tokenizers library's Precompiled normalizer: a short grapheme is replaced by the value of
   * its shortest matching prefix (the rest of the grapheme is dropped), else each character by its own.
   */
  normalizeGraphemes(text: string): string {
    let out = '';
    const matches: Array<[number, number]> = [];
    for (const { segment } of graphemes.segment(text)) {
      const bytes = utf8.encode(segment);
      if (bytes.length < GRAPHEME_BYTE_LIMIT) {
        matches.length = 0;
        this.prefixMatches(bytes, 0, bytes.length, matches, true);
        if (matches.length) {
          out += this.replacement(matches[0]![1]);
          continue;
        }
      }
      for (const char of segment) {
        const charBytes = utf8.encode(char);
        matches.length = 0;
        this.prefixMatches(charBytes, 0, charBytes.length, matches, true);
        out += matches.length ? this.replacement(matches[0]![1]) : char;
      }
    }
    return out;
  }
}

/** darts-clone unit offset: 22 bits, scaled by 256 when bit 9 is set. */
function offset(unit: number): number {
  return (unit >>> 10) << ((unit & 0x200) >>> 6);
}

function utf8Length(lead: number): number {
  return lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}
