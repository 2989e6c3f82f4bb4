/**
 * Words of a prompt and the token positions they occupy, with the semantics of Prompt-to-Prompt's
 * `get_word_inds`: words are the prompt split on single spaces, and each content token is assigned to the current
 * word by walking the decoded token texts with a character counter. Positions are in the padded token space the
 * attention maps use: 0 is BOS, content tokens start at 1.
 */
import { UserError } from '../../engine/errors.js';

/** What the edit logic needs from the CLIP tokenizer (ClipTokenizer satisfies it). */
export interface EditTokenizer {
  /** Token ids with BOS first and EOS last, unpadded and untruncated. */
  encode(text: string): number[];
  /** The text of one token (CLIP: the word piece without its `</w>` marker). */
  decodeToken(id: number): string;
  /** Token slots of the text encoder (77): the size of every per-token vector and mapper. */
  readonly maxLength: number;
}

/** The prompt's words exactly as get_word_inds sees them: a split on single spaces. */
export const splitWords = (text: string): string[] => text.split(' ');

/**
 * Collapses every run of whitespace to one space and trims. The CLIP tokenizer splits on any whitespace, so this
 * never changes the token ids, but it keeps the word walk from meeting empty words (a double space breaks it).
 */
export const normalizeSpaces = (text: string): string => text.trim().split(/\s+/u).filter(Boolean).join(' ');

/** A word's length in characters as Python counts them (code points, not UTF-16 units). */
const charCount = (s: string): number => [...s].length;

/** A decoded token as the reference compares it: trimmed, with `#` (BERT word-piece marks) stripped at both ends. */
const tokenText = (tokenizer: EditTokenizer, id: number): string => tokenizer.decodeToken(id).trim().replace(/^#+|#+$/gu, '');

/** The last few texts each tokenizer walked: an edit asks for the spans of the same prompt once per weight or word. */
const spanCache = new WeakMap<EditTokenizer, Map<string, readonly number[][]>>();
const SPAN_CACHE_SIZE = 4;

/**
 * Token positions of every word of `text` (index = word index). A word gets the consecutive tokens whose decoded
 * lengths add up to at least its own length. Tokens left over after the last word (which only happens when the
 * tokenizer's text cleaning changed lengths) are not assigned. Shared between calls: do not modify.
 */
export function wordTokenSpans(text: string, tokenizer: EditTokenizer): readonly (readonly number[])[] {
  let cache = spanCache.get(tokenizer);
  if (!cache) spanCache.set(tokenizer, (cache = new Map()));
  const cached = cache.get(text);
  if (cached) return cached;
  const words = splitWords(text);
  const ids = tokenizer.encode(text).slice(1, -1);
  const spans: number[][] = words.map(() => []);
  let word = 0;
  let length = 0;
  for (let i = 0; i < ids.length && word < words.length; i++) {
    length += charCount(tokenText(tokenizer, ids[i]));
    spans[word].push(i + 1);
    if (length >= charCount(words[word])) {
      word++;
      length = 0;
    }
  }
  if (cache.size >= SPAN_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(text, spans);
  return spans;
}

/**
 * get_word_inds: the token positions of every word equal to `word` (exact, case-sensitive comparison, as the
 * reference does), or of the word at index `word`. Empty when nothing matches.
 */
export function getWordInds(text: string, word: string | number, tokenizer: EditTokenizer): number[] {
  const words = splitWords(text);
  const spans = wordTokenSpans(text, tokenizer);
  const selected = typeof word === 'number' ? [word] : words.flatMap((w, i) => (w === word ? [i] : []));
  return selected.flatMap((i) => spans[i] ?? []);
}

/**
 * How words are compared when a user names them: lower case (CLIP lower-cases everything) and without
 * punctuation at either end, so "Cat" names the word "cat," of "a cat, sitting". A word made only of
 * punctuation is compared as typed.
 */
function comparableWord(word: string): string {
  const lower = word.toLowerCase();
  const core = lower.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
  return core.length > 0 ? core : lower;
}

interface PhraseIndex {
  /** The words as compared (comparableWord). */
  have: string[];
  /** Where each compared word occurs. */
  at: Map<string, number[]>;
}

function buildPhraseIndex(words: readonly string[]): PhraseIndex {
  const have = words.map(comparableWord);
  const at = new Map<string, number[]>();
  have.forEach((w, i) => {
    const list = at.get(w);
    if (list) list.push(i);
    else at.set(w, [i]);
  });
  return { have, at };
}

/** Indexes of word lists and of the last few texts: an edit searches the same prompt once per swap, weight or word. */
const indexOfWords = new WeakMap<readonly string[], PhraseIndex>();
const indexOfText = new Map<string, PhraseIndex>();
const TEXT_INDEX_CACHE_SIZE = 4;

function startsIn(index: PhraseIndex, phrase: readonly string[]): number[] {
  if (phrase.length === 0) return [];
  const wanted = phrase.map(comparableWord);
  const { have, at } = index;
  return (at.get(wanted[0]) ?? []).filter((i) => i + wanted.length <= have.length && wanted.every((w, k) => have[i + k] === w));
}

/** Start indices of every occurrence of the word sequence `phrase` in `words` (compared with comparableWord). */
export function findPhrase(words: readonly string[], phrase: readonly string[]): number[] {
  let index = indexOfWords.get(words);
  if (!index) indexOfWords.set(words, (index = buildPhraseIndex(words)));
  return startsIn(index, phrase);
}

/** Word indices covered by every occurrence of `phrase` (a space-separated word or words) in `text`. */
export function phraseWordIndices(text: string, phrase: string): number[] {
  let index = indexOfText.get(text);
  if (!index) {
    index = buildPhraseIndex(splitWords(text));
    if (indexOfText.size >= TEXT_INDEX_CACHE_SIZE) indexOfText.delete(indexOfText.keys().next().value!);
    indexOfText.set(text, index);
  }
  const phraseWords = normalizeSpaces(phrase).split(' ').filter(Boolean);
  return startsIn(index, phraseWords).flatMap((start) => phraseWords.map((_, k) => start + k));
}

/**
 * Token positions of the given word indices, checked to fit the text encoder's context: a word past the token
 * limit has no attention column to edit.
 */
export function tokensOfWords(text: string, wordIndices: readonly number[], tokenizer: EditTokenizer): number[] {
  const spans = wordTokenSpans(text, tokenizer);
  const words = splitWords(text);
  const positions: number[] = [];
  for (const w of wordIndices) {
    const span = spans[w] ?? [];
    if (span.length === 0) throw new UserError('bad_prompt', `The word “${words[w]}” of “${text}” has no tokens, so it cannot be edited.`);
    if (span[span.length - 1] >= tokenizer.maxLength - 1) {
      throw new UserError('bad_prompt', `The word “${words[w]}” lies past the ${tokenizer.maxLength - 2}-token limit of “${text}”, so it cannot be edited.`);
    }
    positions.push(...span);
  }
  return positions;
}
