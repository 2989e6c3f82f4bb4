/** The bot's backend: the engine in-process (the default), or engine workers on Redis when a Redis URL is set. */
import { createHash } from 'node:crypto';
import { basename, resolve } from 'node:path';
import type { WarmUpOptions } from '../../engine/pipeline.js';
import type { ImageBackend } from '../backend.js';
import type { EngineConfig } from '../config.js';
import { startEngineBackend } from '../engine-backend.js';
import type { Logger } from '../log.js';
import { startRedisBackend, type DeliveryTimes } from './redis-backend.js';

export interface BackendChoice {
  engine: EngineConfig;
  /** Set: no engine here, jobs go to `reprompt worker` processes through this Redis. */
  redisUrl?: string;
  /** The bot's job database: its path tells this bot's jobs from another's on a shared Redis. */
  dbPath: string;
  log: Logger;
  /** Warm the in-process engine at these shapes before it reports ready (the bot does; `reprompt local` does not). */
  warmUp?: WarmUpOptions;
  onDelivered?(times: DeliveryTimes): void;
}

export function startBackend(o: BackendChoice): Promise<ImageBackend> {
  if (!o.redisUrl) return startEngineBackend(o.engine, { warmUp: o.warmUp, log: o.log });
  return startRedisBackend({
    redisUrl: o.redisUrl,
    // Workers announce their model folder's name; the bot's MODEL_DIR names the same model.
    model: basename(resolve(o.engine.modelDir)),
    namespace: createHash('sha256').update(resolve(o.dbPath)).digest('hex').slice(0, 12),
    log: o.log,
    onDelivered: o.onDelivered,
  });
}
