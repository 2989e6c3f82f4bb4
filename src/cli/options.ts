/**
 * Option-argument parsers for commander. They throw InvalidArgumentError, which commander turns into
 * "option '--steps <n>' argument 'x' is invalid. <reason>", reported by program.ts as one line, exit code 2.
 */
import { InvalidArgumentError } from 'commander';
import { isUserError } from '../engine/errors.js';

export interface IntegerRule {
  min?: number;
  max?: number;
  multipleOf?: number;
}

/** A whole-number option, e.g. `integer({ min: 8, multipleOf: 8 })`. */
export function integer(rule: IntegerRule = {}): (text: string) => number {
  const { min = -Infinity, max = Infinity, multipleOf = 1 } = rule;
  return (text) => {
    const value = /^[+-]?\d+$/.test(text.trim()) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value)) throw new InvalidArgumentError('Expected a whole number.');
    if (value < min || value > max) throw new InvalidArgumentError(`Expected ${describeRange(min, max)}.`);
    if (value % multipleOf !== 0) throw new InvalidArgumentError(`Expected a multiple of ${multipleOf}.`);
    return value;
  };
}

function describeRange(min: number, max: number): string {
  if (max === Infinity) return `at least ${min}`;
  if (min === -Infinity) return `at most ${max}`;
  return `a number from ${min} to ${max}`;
}

/** Any finite number, negative ones included (`--cfg -5`). */
export function finiteNumber(text: string): number {
  const value = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(value)) throw new InvalidArgumentError('Expected a number.');
  return value;
}

/** Reuses a validator that throws UserError (say normalizeSeed) as an option parser, or as one step of one. */
export function fromValidator<In, T>(validate: (value: In) => T): (value: In) => T {
  return (value) => {
    try {
      return validate(value);
    } catch (error) {
      if (isUserError(error)) throw new InvalidArgumentError(error.message);
      throw error;
    }
  };
}

/** Text that must say something (`--prompt ''` or only spaces is refused). */
export function promptText(text: string): string {
  if (text.trim() === '') throw new InvalidArgumentError('Expected some text: describe what to draw.');
  return text;
}
