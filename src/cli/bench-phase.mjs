// Entry point of one `reprompt bench --json` measurement process (bench-json.ts forks it, so that each
// measurement has its own peak RSS). Like the engine worker's bootstrap, it registers tsx itself.
import { register } from 'tsx/esm/api';

register();
await import('./bench-phase.ts');
