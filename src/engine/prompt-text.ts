/**
 * Characters a prompt cannot hold. Control characters (NUL and the rest of Unicode's Cc, except the whitespace
 * ones, which count as spaces), lone UTF-16 surrogates and private-use characters mean nothing to the text encoder
 * and would be written as they are into the PNG's text chunk, so every layer that takes user text refuses them
 * with the same message before doing any work.
 */
import { UserError, type ErrorCode } from './errors.js';

/** Control (except whitespace), lone-surrogate and private-use characters. */
const UNUSABLE = /(?![\t\n\v\f\r])[\p{Cc}\p{Cs}\p{Co}]/u;

/** The first character of `text` that no prompt may hold, with its index in code points, or undefined. */
export function unusableCharacter(text: string): { char: string; position: number } | undefined {
  const found = UNUSABLE.exec(text);
  if (!found) return undefined;
  return { char: found[0], position: [...text.slice(0, found.index)].length };
}

/** `U+0000` for a character. */
export const codePointName = (char: string): string => `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** Throws UserError(code) naming the first unusable character of `text` (`what` names the text: "prompt", "edit"). */
export function checkPromptCharacters(what: string, text: string, code: ErrorCode = 'bad_prompt'): void {
  const found = unusableCharacter(text);
  if (!found) return;
  const kind = /\p{Co}/u.test(found.char) ? 'a private-use character' : /\p{Cs}/u.test(found.char) ? 'a broken character (lone surrogate)' : 'a control character';
  throw new UserError(code, `The ${what} contains ${kind} (${codePointName(found.char)}) at character ${found.position + 1}: remove it.`);
}
