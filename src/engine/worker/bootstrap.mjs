// The worker's entry point. A worker thread starts from plain JavaScript and does not inherit the loader
// hooks of its parent (tsx in the CLI, ts-jest in tests), so it registers tsx itself, then loads the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./worker-main.ts');
