/**
 * Assembles the bot from its parts: store, job service (queue + backend + message updates), context and router.
 * The discord.js adapter and the console driver both start here, so they run the same commands the same way.
 */
import { modules as allModules } from '../../commands/index.js';
import type { ImageBackend } from './backend.js';
import type { BotConfig } from './config.js';
import type { BotContext } from './context.js';
import type { Logger } from './log.js';
import type { MessageSink } from './port/index.js';
import { DEFAULT_PHOTO_MAX_BYTES, PhotoDialogs } from './photos.js';
import { Router, type BotModule } from './router.js';
import { JobService } from './service.js';
import { JobStore } from './store.js';
import { effectiveLimits, usableDefaults } from './validate.js';

export type AppSettings = Pick<BotConfig, 'dbPath' | 'queue' | 'maxSteps' | 'maxSize' | 'defaults' | 'uploadLimitBytes' | 'progressIntervalMs'>;

export interface BotAppOptions {
  settings: AppSettings;
  backend: ImageBackend;
  sink: MessageSink;
  log: Logger;
  /** Plain replies `cat→dog` to a bot image edit it. */
  messageContent: boolean;
  /** Largest picture file taken for an edit of a user's picture (default DEFAULT_PHOTO_MAX_BYTES). */
  photoMaxBytes?: number;
  /** The command modules; all of commands/ by default. */
  modules?: readonly BotModule[];
}

export interface BotApp {
  router: Router;
  jobs: JobService;
  store: JobStore;
  context: BotContext;
  /** Closes the store (call jobs.shutdown() or jobs.idle() first to let running jobs land). */
  close(): Promise<void>;
}

export function createBotApp(o: BotAppOptions): BotApp {
  const store = new JobStore(o.settings.dbPath);
  const limits = effectiveLimits(o.backend.limits, o.settings);
  const jobs = new JobService({
    store,
    backend: o.backend,
    sink: o.sink,
    log: o.log,
    limits,
    queue: o.settings.queue,
    uploadLimitBytes: o.settings.uploadLimitBytes,
    progressIntervalMs: o.settings.progressIntervalMs,
  });
  const defaults = usableDefaults(o.settings.defaults, limits);
  const context: BotContext = { store, jobs, sink: o.sink, limits, defaults, backend: o.backend.info, messageContent: o.messageContent, photoMaxBytes: o.photoMaxBytes ?? DEFAULT_PHOTO_MAX_BYTES, photoDialogs: new PhotoDialogs(), log: o.log };
  const router = new Router(o.modules ?? allModules, context);
  return {
    router,
    jobs,
    store,
    context,
    async close() {
      store.close();
    },
  };
}
