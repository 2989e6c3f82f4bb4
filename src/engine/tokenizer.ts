/**
 * CLIP tokenizer giving exactly the ids of transformers' slow `CLIPTokenizer` as diffusers' pipelines use it
 * (ftfy not installed). The steps, in transformers' order:
 *  1. typed special tokens (bos/eos/unk/pad text, e.g. `<|endoftext|>`, and SD2's pad `!`) are cut out of the raw
 *     text and become their ids;
 *  2. every other piece is cleaned like BERT's BasicTokenizer (tokenizer/basicTokenizer.ts);
 *  3. CLIP's regex splits the words into pre-tokens, which are written in the byte-level alphabet and BPE-encoded.
 */
import { basicTokenize } from './tokenizer/basicTokenizer.js';
import { BytePairEncoder, END_OF_WORD } from './tokenizer/bpe.js';
import { fromByteSymbols, toByteSymbols } from './tokenizer/byteLevel.js';
import { readTokenizerFiles, type TokenizerFiles } from './tokenizer/files.js';

/** CLIP's pre-tokenizer pattern (case-insensitive, as CLIP compiles it). */
const PRE_TOKEN_PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;
/**
 * Pre-tokens CLIP's BPE returns unchanged (no `</w>`), so they map to the special ids. This is how an upper-case
 * `<|ENDOFTEXT|>`, which step 1 misses, still becomes EOS once the cleaning has lower-cased it.
 */
const CLIP_SPECIAL_PRE_TOKENS: ReadonlySet<string> = new Set(['<|startoftext|>', '<|endoftext|>']);

/** transformers' `clean_up_tokenization`: undo the spaces decoding leaves before punctuation and contractions. */
const DETOKENIZE_REPLACEMENTS: readonly (readonly [string, string])[] = [
  [' .', '.'],
  [' ?', '?'],
  [' !', '!'],
  [' ,', ','],
  [" ' ", "'"],
  [" n't", "n't"],
  [" 'm", "'m"],
  [" 's", "'s"],
  [" 've", "'ve"],
  [" 're", "'re"],
];

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly maxLength: number;
  readonly vocabSize: number;

  private readonly vocab: ReadonlyMap<string, number>;
  private readonly tokenById: ReadonlyMap<number, string>;
  private readonly unkId: number;
  private readonly bpe: BytePairEncoder;
  private readonly specialTexts: ReadonlySet<string>;
  /** Splits text around special-token texts, keeping them (longest first, like transformers' trie). */
  private readonly specialSplitter: RegExp;
  private readonly cleanUpSpaces: boolean;

  /** Loads the model's `tokenizer/` folder; a missing or broken file is a UserError('model') naming it. */
  static async load(dir: string): Promise<ClipTokenizer> {
    return new ClipTokenizer(await readTokenizerFiles(dir));
  }

  private constructor(files: TokenizerFiles) {
    const { vocab, special } = files;
    this.vocab = vocab;
    // vocab.json is checked to contain every special token.
    this.bosId = vocab.get(special.bos)!;
    this.eosId = vocab.get(special.eos)!;
    this.padId = vocab.get(special.pad)!;
    this.unkId = vocab.get(special.unk)!;
    this.maxLength = files.maxLength;
    this.vocabSize = vocab.size;
    this.tokenById = new Map([...vocab].map(([token, id]) => [id, token]));
    this.bpe = new BytePairEncoder(files.mergeRanks);
    this.specialTexts = new Set(Object.values(special));
    const alternatives = [...this.specialTexts].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.specialSplitter = new RegExp(`(${alternatives.join('|')})`, 'u');
    this.cleanUpSpaces = files.cleanUpSpaces;
  }

  /** BPE token strings (e.g. 'cat</w>'), no BOS/EOS. */
  tokenize(text: string): string[] {
    const tokens: string[] = [];
    // split() with a capturing group puts the special texts at the odd indexes.
    text.split(this.specialSplitter).forEach((piece, i) => {
      if (i % 2 === 1) {
        tokens.push(piece);
        return;
      }
      for (const word of basicTokenize(piece)) {
        for (const [preToken] of word.matchAll(PRE_TOKEN_PATTERN)) tokens.push(...this.encodePreToken(preToken));
      }
    });
    return tokens;
  }

  /** ids with BOS and EOS, no truncation, no padding (= tokenizer(text).input_ids). */
  encode(text: string): number[] {
    return [this.bosId, ...this.contentIds(text), this.eosId];
  }

  /** Padded/truncated to maxLength, exactly what the pipeline feeds the text encoder. */
  encodePadded(text: string): { ids: Int32Array; tokenCount: number; truncated: string[] } {
    const tokens = this.tokenize(text);
    const room = this.maxLength - 2; // BOS and EOS always fit
    const kept = tokens.slice(0, room).map((token) => this.idOf(token));
    const ids = new Int32Array(this.maxLength).fill(this.padId);
    ids.set([this.bosId, ...kept, this.eosId]);
    return { ids, tokenCount: kept.length + 2, truncated: this.wordsOf(tokens.slice(room)) };
  }

  /** Decodes ids to text like HF decode: byte-level decode, '</w>' → space, trimmed, spaces before punctuation removed. */
  decode(ids: readonly number[]): string {
    const text = this.tokensToText(ids.map((id) => this.tokenOf(id)));
    return this.cleanUpSpaces ? DETOKENIZE_REPLACEMENTS.reduce((t, [from, to]) => t.replaceAll(from, to), text) : text;
  }

  /** The text of one token, e.g. the id of 'cat</w>' → 'cat'. */
  decodeToken(id: number): string {
    return this.decode([id]);
  }

  private contentIds(text: string): number[] {
    return this.tokenize(text).map((token) => this.idOf(token));
  }

  private encodePreToken(preToken: string): readonly string[] {
    const symbols = toByteSymbols(preToken);
    return CLIP_SPECIAL_PRE_TOKENS.has(symbols) ? [symbols] : this.bpe.encodeWord(symbols);
  }

  private idOf(token: string): number {
    return this.vocab.get(token) ?? this.unkId;
  }

  private tokenOf(id: number): string {
    const token = this.tokenById.get(id);
    if (token === undefined) throw new RangeError(`token id ${id} is not in the vocabulary (0..${this.vocabSize - 1})`);
    return token;
  }

  private tokensToText(tokens: readonly string[]): string {
    return fromByteSymbols(tokens.join('')).replaceAll(END_OF_WORD, ' ').trim();
  }

  /** Groups tokens into words (a word ends with '</w>'; a special token is a word of its own) and decodes each. */
  private wordsOf(tokens: readonly string[]): string[] {
    const words: string[] = [];
    let current: string[] = [];
    const flush = (): void => {
      const word = this.tokensToText(current);
      if (word) words.push(word);
      current = [];
    };
    for (const token of tokens) {
      if (this.specialTexts.has(token)) flush();
      current.push(token);
      if (token.endsWith(END_OF_WORD) || this.specialTexts.has(token)) flush();
    }
    flush();
    return words;
  }
}
