#!/usr/bin/env node
// Entry point of `npx reprompt`. Runs the JavaScript that `npm ci` compiled into dist/ (the prepare script,
// `npm run build`); when the TypeScript sources are newer than that build (a checkout being edited) or there is
// none, it runs the sources through tsx instead, which is correct but about a second slower to start.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = join(root, 'dist', 'src', 'cli', 'main.js');

/** The newest modification time of the TypeScript files under `dir`. */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const fresh = existsSync(built) && statSync(built).mtimeMs >= Math.max(newestSource(join(root, 'src')), newestSource(join(root, 'commands')));
if (fresh) {
  await import('../dist/src/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
