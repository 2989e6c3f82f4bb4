/**
 * Where the application's worker handler module is, for `EngineWorker.start({ handlers })`. A module of its own:
 * importing handlers.ts itself would build its loader and attention store in the main thread.
 */
import { siblingModule } from '../engine/module-url.js';

export const APP_HANDLERS_URL = siblingModule(import.meta.url, './handlers');

/** The settings of that module (EngineWorkerOptions.handlerSettings), given as options, never read from the environment. */
export interface AppHandlerSettings {
  /** Memory for stored source attention (edits of the same source reuse it); 0 disables re-use. */
  attentionStoreMb: number;
}
