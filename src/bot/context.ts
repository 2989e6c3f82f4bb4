/** What every command, button and modal handler gets besides the interaction. */
import type { BackendInfo, BackendLimits } from './backend.js';
import type { Logger } from './log.js';
import type { PhotoDialogs } from './photos.js';
import type { MessageSink } from './port/index.js';
import type { JobService } from './service.js';
import type { JobStore } from './store.js';
import type { Defaults } from './validate.js';

export interface BotContext {
  store: JobStore;
  jobs: JobService;
  /** Bot-token channel messages (delete, notices). */
  sink: MessageSink;
  /** Effective limits: the model's, narrowed by the operator's caps. */
  limits: BackendLimits;
  defaults: Defaults;
  backend: BackendInfo;
  /** Plain replies to bot images edit them (the operator enabled the message-content intent). */
  messageContent: boolean;
  /** Largest picture file taken for an edit of a user's picture (./photos.ts). */
  photoMaxBytes: number;
  /** Pictures whose description dialog is open. */
  photoDialogs: PhotoDialogs;
  log: Logger;
}
