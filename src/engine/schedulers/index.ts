/**
 * Picks and builds a sampler. A model's scheduler_config.json names a diffusers class; a sampler the user picks
 * replaces the class but keeps the config's betas, spacing, offset and prediction type, like diffusers'
 * `<Class>.from_config(config)`.
 */
import { UserError } from '../errors.js';
import { DdimScheduler } from './ddim.js';
import { DpmSolverMultistepScheduler } from './dpm-solver.js';
import { EulerAncestralScheduler } from './euler-ancestral.js';
import { EulerScheduler } from './euler.js';
import { LcmScheduler } from './lcm.js';
import { LmsScheduler } from './lms.js';
import { PndmScheduler } from './pndm.js';
import type { SamplerName, Scheduler, SchedulerConfig } from './scheduler.js';

export { SAMPLER_NAMES, type SamplerName, type Scheduler, type SchedulerConfig } from './scheduler.js';

const FACTORIES: Record<SamplerName, (config: SchedulerConfig) => Scheduler> = {
  pndm: (config) => new PndmScheduler(config),
  ddim: (config) => new DdimScheduler(config),
  euler: (config) => new EulerScheduler(config),
  'euler-a': (config) => new EulerAncestralScheduler(config),
  'dpm++2m': (config) => new DpmSolverMultistepScheduler(config, false),
  'dpm++2m-karras': (config) => new DpmSolverMultistepScheduler(config, true),
  lms: (config) => new LmsScheduler(config),
  lcm: (config) => new LcmScheduler(config),
};

/** The sampler each supported diffusers class runs as (DPM-Solver's depends on use_karras_sigmas). */
const CLASS_SAMPLERS: Record<string, (config: SchedulerConfig) => SamplerName> = {
  PNDMScheduler: () => 'pndm',
  DDIMScheduler: () => 'ddim',
  EulerDiscreteScheduler: () => 'euler',
  EulerAncestralDiscreteScheduler: () => 'euler-a',
  DPMSolverMultistepScheduler: (config) => (config.use_karras_sigmas === true ? 'dpm++2m-karras' : 'dpm++2m'),
  LMSDiscreteScheduler: () => 'lms',
  LCMScheduler: () => 'lcm',
};

export function samplerForClassName(className: string, config: SchedulerConfig): SamplerName | undefined {
  return Object.hasOwn(CLASS_SAMPLERS, className) ? CLASS_SAMPLERS[className](config) : undefined;
}

/** `sampler` undefined: the class named by the config's `_class_name`. */
export function createScheduler(config: SchedulerConfig, sampler?: SamplerName): Scheduler {
  const name = sampler ?? samplerForConfig(config);
  if (!Object.hasOwn(FACTORIES, name)) {
    throw new UserError('bad_input', `unknown sampler "${name}"; expected one of ${Object.keys(FACTORIES).join(', ')}`);
  }
  return FACTORIES[name](config);
}

/**
 * The sampler a scheduler configuration's `_class_name` describes; UserError('model') for a class reprompt does
 * not implement. `file` names the configuration in that message.
 */
export function samplerForConfig(config: SchedulerConfig, file = 'scheduler_config.json'): SamplerName {
  const className = config._class_name;
  const name = typeof className === 'string' ? samplerForClassName(className, config) : undefined;
  if (name === undefined) {
    throw new UserError(
      'model',
      `${file}: scheduler class ${JSON.stringify(className ?? null)} is not supported ` +
        `(expected one of the classes ${Object.keys(CLASS_SAMPLERS).join(', ')}).`,
    );
  }
  return name;
}
