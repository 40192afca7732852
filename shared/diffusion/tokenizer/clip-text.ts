/**
 * Prompt text as CLIP's tokenizer sees it: cleanup, pre-tokenization into words, and the
 * byte-to-symbol table of byte-level BPE.
 *
 * Cleanup follows transformers' Python CLIPTokenizer with ftfy installed, which Stable Diffusion
 * pipelines use: ftfy.fix_text, then runs of whitespace -> one space, trimmed, then lowercase.
 * Of ftfy we apply the fixes that are plain character maps: curly quotes -> straight, Latin
 * ligatures split, fullwidth/halfwidth forms and the ideographic space -> standard width,
 * line breaks -> '\n', invisible control characters removed, NFC. Not applied: HTML entity
 * decoding ('&amp;' stays literal), mojibake repair, C1-control and terminal-escape fixes; text
 * that needs those tokenizes differently from the Python reference.
 */

const SINGLE_QUOTES = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTES = /[\u201c-\u201f]/g;
// ftfy's width map is exactly NFKC over these characters.
const WIDTH_FORMS = /[\u3000\uff01-\uffee]/g;
const LINE_BREAKS = /\r\n|[\r\u2028\u2029\u0085]/g;
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000e-\u001f\u007f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

const LATIN_LIGATURES: Record<string, string> = {
  '\u0132': 'IJ', '\u0133': 'ij', '\u0149': '\u02bcn',
  '\u01c4': 'D\u017d', '\u01c5': 'D\u017e', '\u01c6': 'd\u017e',
  '\u01c7': 'LJ', '\u01c8': 'Lj', '\u01c9': 'lj',
  '\u01ca': 'NJ', '\u01cb': 'Nj', '\u01cc': 'nj',
  '\u01f1': 'DZ', '\u01f2': 'Dz', '\u01f3': 'dz',
  '\ufb00': 'ff', '\ufb01': 'fi', '\ufb02': 'fl', '\ufb03': 'ffi', '\ufb04': 'ffl',
  '\ufb05': '\u017ft', '\ufb06': 'st',
};
const LIGATURE_CHARS = new RegExp(`[${Object.keys(LATIN_LIGATURES).join('')}]`, 'g');

/** The order of ftfy's own pipeline: ligatures, width, quotes, line breaks, controls, NFC. */
function fixText(text: string): string {
  return text
    .replace(LIGATURE_CHARS, (c) => LATIN_LIGATURES[c] ?? c)
    .replace(WIDTH_FORMS, (c) => c.normalize('NFKC'))
    .replace(DOUBLE_QUOTES, '"')
    .replace(SINGLE_QUOTES, "'")
    .replace(LINE_BREAKS, '\n')
    .replace(CONTROL_CHARS, '')
    .normalize('NFC');
}

export function cleanPromptText(text: string): string {
  return fixText(text).replace(/\s+/gu, ' ').trim().toLowerCase();
}

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';

// CLIP's word pattern; 'i' mirrors the reference's IGNORECASE (e.g. "'\u017f" matches "'s").
const WORD_PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;

/** Splits cleaned text into the words BPE runs on; whitespace separates and is dropped. */
export function splitWords(cleaned: string): string[] {
  return cleaned.match(WORD_PATTERN) ?? [];
}

/** GPT-2's byte -> printable symbol table, so every byte is a vocabulary symbol and no symbol is a space. */
export function byteSymbols(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const symbols = new Array<string>(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    symbols[b] = String.fromCodePoint(printable(b) ? b : 256 + shifted++);
  }
  return symbols;
}
