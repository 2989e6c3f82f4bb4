/**
 * Splits a console line into words the way a shell would for our purposes: whitespace separates, double or
 * single quotes group (`prompt:"a red fox"` → `prompt:a red fox`), a backslash escapes the next character.
 */
import { UserError } from '../../engine/errors.js';

export function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) {
      current += line[++i];
      inToken = true;
    } else if (quote) {
      if (c === quote) quote = undefined;
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inToken = true;
    } else if (/\s/.test(c)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
    } else {
      current += c;
      inToken = true;
    }
  }
  if (quote) throw new UserError('bad_input', `Unclosed ${quote} quote.`);
  if (inToken) tokens.push(current);
  return tokens;
}

/** `name:value` (slash options) or `name=value` (modal fields) → [name, value], split at the first separator. */
export function splitPair(token: string, separator: ':' | '='): [string, string] | undefined {
  const at = token.indexOf(separator);
  return at <= 0 ? undefined : [token.slice(0, at), token.slice(at + 1)];
}
