/**
 * The text cleaning transformers' slow CLIPTokenizer does when ftfy is not installed (the setup diffusers'
 * reference ran in): BERT's BasicTokenizer with strip_accents=False and do_split_on_punc=False. Per character:
 * NUL, U+FFFD and other `C*` characters are dropped, tab/CR/LF and `Zs` become spaces, CJK ideographs get spaces
 * around them; then NFC, a Python `str.split()`, and lower case per word. Accents stay, punctuation stays attached
 * (CLIP's regex splits it later) and HTML entities are left as typed.
 */

/** Python's `str.isspace()` characters, the ones `str.split()` splits on. */
const PYTHON_WHITESPACE = /[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;
const CONTROL_OR_UNASSIGNED = /^\p{C}$/u;
const SPACE_SEPARATOR = /^\p{Zs}$/u;

/** The "CJK Unified Ideographs" blocks BERT's tokenize_chinese_chars treats as one word each. */
const CJK_RANGES: readonly (readonly [number, number])[] = [
  [0x4e00, 0x9fff],
  [0x3400, 0x4dbf],
  [0x20000, 0x2a6df],
  [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f],
  [0x2b820, 0x2ceaf],
  [0xf900, 0xfaff],
  [0x2f800, 0x2fa1f],
];

const isCjkIdeograph = (cp: number): boolean => CJK_RANGES.some(([lo, hi]) => cp >= lo && cp <= hi);

function cleanCharacters(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd) continue;
    // Tab, LF and CR are `Cc` but BERT counts them as whitespace, so the whitespace test comes first.
    if (ch === '\t' || ch === '\n' || ch === '\r' || SPACE_SEPARATOR.test(ch)) out += ' ';
    else if (CONTROL_OR_UNASSIGNED.test(ch)) continue;
    else if (isCjkIdeograph(cp)) out += ` ${ch} `;
    else out += ch;
  }
  return out;
}

/** The cleaned, lower-cased words of `text` (no empty strings). */
export function basicTokenize(text: string): string[] {
  return cleanCharacters(text)
    .normalize('NFC')
    .split(PYTHON_WHITESPACE)
    .filter((word) => word.length > 0)
    .map((word) => word.toLowerCase());
}
