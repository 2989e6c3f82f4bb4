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
  let cause: unknown;
  redis.on('error', (e) => (cause ??= e)); // after the first connection, reconnecting is automatic
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    throw new UserError('internal', `Cannot reach Redis at ${withoutPassword(url)}: ${errorMessage(cause ?? e)}. Is redis-server running there?`);
  }
  return redis;
}

/** The URL as it may be shown in messages and logs: a password in it (redis://:secret@host) is hidden. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unreadable Redis URL)';
  }
}
