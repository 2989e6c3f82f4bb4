/** Which model folder the CLI uses: --model, else $REPROMPT_MODEL_DIR, else the bundled test model. */
import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT } from './package-root.js';

/** models/tiny-sd15 of this package, wherever the command is run from. */
const BUNDLED_MODEL_DIR = join(PACKAGE_ROOT, 'models', 'tiny-sd15');

export function resolveModelDir(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = option ?? (env.REPROMPT_MODEL_DIR || undefined);
  return chosen === undefined ? BUNDLED_MODEL_DIR : resolve(chosen);
}

/** True for the bundled model, whose weights are random: its images are coloured noise. */
function isBundledModel(dir: string): boolean {
  return canonical(dir) === canonical(BUNDLED_MODEL_DIR);
}

/** Says on stderr when the model is the bundled one, so noise in the output is not mistaken for a bug. */
export function noteIfBundledModel(dir: string): void {
  if (isBundledModel(dir)) process.stderr.write('reprompt: using the bundled test model tiny-sd15 (random weights: the image is noise)\n');
}

function canonical(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return resolve(dir);
  }
}
