/** Removes the graph cache folder of this test run (see global-setup.mjs). */
import { rmSync } from 'node:fs';

export default function globalTeardown() {
  if (process.env.REPROMPT_CACHE_DIR) rmSync(process.env.REPROMPT_CACHE_DIR, { recursive: true, force: true });
}
