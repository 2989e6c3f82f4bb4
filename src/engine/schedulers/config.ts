/**
 * Scheduler configuration the way diffusers' `<Class>.from_config(config, **overrides)` resolves it: the class's
 * constructor defaults, then every key of the model's scheduler_config.json, then the overrides a sampler name
 * implies. Values of the wrong type are the model's fault, so they become UserErrors naming the key.
 */
import { UserError } from '../errors.js';
import type { SchedulerConfig } from './scheduler.js';

type ConfigValue = number | string | boolean | null;

/** A class's constructor defaults (its diffusers `__init__` signature). `null` marks an optional value. */
export type ConfigDefaults = Record<string, ConfigValue>;

export type ResolvedConfig<D extends ConfigDefaults> = SchedulerConfig & D;

/** Keys whose numbers must be whole (they size arrays or index timesteps). */
const INTEGER_KEYS = new Set(['num_train_timesteps', 'steps_offset', 'solver_order', 'original_inference_steps']);

/** diffusers writes infinite floats (lambda_min_clipped) in ways JSON cannot hold; accept the usual spellings. */
const INFINITIES: Record<string, number> = { inf: Infinity, Infinity: Infinity, '-inf': -Infinity, '-Infinity': -Infinity };

export function configError(className: string, message: string): UserError {
  return new UserError('model', `scheduler_config.json (${className}): ${message}`);
}

/**
 * Keys the class does not know are kept unused, as diffusers keeps them; private keys (`_class_name`,
 * `_diffusers_version`) are dropped. Keys with a `null` default are checked by the code that reads them.
 */
export function resolveConfig<D extends ConfigDefaults>(
  className: string,
  defaults: D,
  config: SchedulerConfig,
  overrides: Partial<D> = {},
): ResolvedConfig<D> {
  const resolved: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries({ ...config, ...overrides })) {
    if (key.startsWith('_') || value === undefined) continue;
    resolved[key] = key in defaults ? checkedValue(className, key, defaults[key], value) : value;
  }
  return resolved as ResolvedConfig<D>;
}

function checkedValue(className: string, key: string, fallback: ConfigValue, value: unknown): unknown {
  if (fallback === null) return value;
  const expected = typeof fallback;
  if (expected === 'number') {
    const number = typeof value === 'string' && value in INFINITIES ? INFINITIES[value] : value;
    const whole = INTEGER_KEYS.has(key);
    if (typeof number === 'number' && !Number.isNaN(number) && (!whole || Number.isInteger(number))) return number;
    throw configError(className, `${key} must be ${whole ? 'a whole number' : 'a number'}, got ${JSON.stringify(value)}`);
  }
  if (typeof value !== expected) {
    throw configError(className, `${key} must be a ${expected}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Rejects a value the class does not implement, listing those it does. */
export function requireOneOf<T extends string>(className: string, key: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw configError(className, `${key} "${value}" is not supported; expected one of ${allowed.join(', ')}`);
}

/** Rejects an option that is switched on but that reprompt does not implement (diffusers would honour it). */
export function rejectEnabled(className: string, config: SchedulerConfig, key: string): void {
  if (config[key] === true) throw configError(className, `${key}: true is not supported`);
}

/** A key whose default is null: absent/null, or a number. */
export function optionalNumber(className: string, config: SchedulerConfig, key: string): number | null {
  const value = config[key];
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw configError(className, `${key} must be a number or null, got ${JSON.stringify(value)}`);
}
