/**
 * CLIP's byte-level alphabet (shared with GPT-2): every UTF-8 byte is shown as one printable character, so BPE
 * works on strings that never contain whitespace or control characters. Printable Latin-1 bytes stand for
 * themselves; the 68 others (controls, space, soft hyphen…) take the characters from U+0100 on, in byte order.
 */
const byteToSymbol: string[] = [];
const symbolToByte = new Map<string, number>();

function isPrintableByte(b: number): boolean {
  return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

let nextExtra = 0x100;
for (let b = 0; b < 256; b++) {
  const symbol = String.fromCharCode(isPrintableByte(b) ? b : nextExtra++);
  byteToSymbol[b] = symbol;
  symbolToByte.set(symbol, b);
}

const utf8Decoder = new TextDecoder('utf-8'); // not fatal: invalid sequences become U+FFFD, like Python's errors="replace"

/** The UTF-8 bytes of `text`, each written as its byte-level symbol. */
export function toByteSymbols(text: string): string {
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) out += byteToSymbol[b];
  return out;
}

/** Inverse of toByteSymbols. A character outside the alphabet (only a hand-edited vocab has one) keeps its own UTF-8. */
export function fromByteSymbols(symbols: string): string {
  const bytes: number[] = [];
  for (const ch of symbols) {
    const b = symbolToByte.get(ch);
    if (b !== undefined) bytes.push(b);
    else bytes.push(...Buffer.from(ch, 'utf8'));
  }
  return utf8Decoder.decode(Uint8Array.from(bytes));
}
