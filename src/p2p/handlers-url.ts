/**
 * Where the application's worker handler module is, for `EngineWorker.start({ handlers })`. A module of its own:
 * importing handlers.ts itself would build its loader and attention store in the main thread.
 */
export const APP_HANDLERS_URL = new URL('./handlers.ts', import.meta.url);
