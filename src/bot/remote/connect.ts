/** Connecting to Redis, for the bot and the workers alike. */
import { Redis } from 'ioredis';
import { errorMessage, UserError } from '../../engine/errors.js';

/**
 * A connected client; UserError('internal') naming the URL when Redis cannot be reached. Once connected, ioredis
 * reconnects by itself after a drop. `forBullMQ`: commands wait for the reconnection instead of failing (BullMQ
 * requires it of the connections it blocks on).
 */
export async function connectRedis(url: string, options: { forBullMQ?: boolean } = {}): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: options.forBullMQ ? null : 3 });
  redis.on('error', () => {}); // reconnection is automatic; the commands that fail meanwhile say so
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    throw new UserError('internal', `Cannot reach Redis at ${url}: ${errorMessage(e)}`);
  }
  return redis;
}
