/**
 * Keeps `npm test` hermetic: every test process (and the CLI processes and engine worker threads they start)
 * caches patched UNet graphs in a temporary folder of this run, never in the user's ~/.cache/reprompt. Jest
 * starts its test workers after this, so they inherit the variable; global-teardown.mjs removes the folder.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function globalSetup() {
  process.env.REPROMPT_CACHE_DIR = mkdtempSync(join(tmpdir(), 'reprompt-test-cache-'));
}
