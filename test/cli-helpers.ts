/** Running the CLI as a user does: `node bin/reprompt.mjs …` in a working directory, with the bundled model. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './helpers.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `reprompt args…` in `cwd`; REPROMPT_MODEL_DIR is not inherited (set it in `env` to use another model). */
export function runReprompt(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const { REPROMPT_MODEL_DIR: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'reprompt.mjs'), ...args], { cwd, env: { ...inherited, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export const outputLines = (text: string): string[] => text.split('\n').filter((line) => line !== '');
