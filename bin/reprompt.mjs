#!/usr/bin/env node
// Entry point of `npx reprompt`: runs the TypeScript sources through tsx, so no build step is needed.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
