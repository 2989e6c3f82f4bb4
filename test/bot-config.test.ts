import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, redactor } from '../src/bot/config.js';
import { createLogger } from '../src/bot/log.js';
import { repoRoot } from './helpers.js';

const TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789';
const valid = { DISCORD_TOKEN: TOKEN, DISCORD_APP_ID: '123456789012345678', MODEL_DIR: 'models/sd15' };

const problemsOf = (env: Record<string, string>, needs: 'bot' | 'register' | 'local' = 'bot'): string => {
  try {
    loadConfig(env, needs);
  } catch (e) {
    return (e as Error).message;
  }
  return '';
};

describe('configuration', () => {
  test('defaults for everything optional', () => {
    const config = loadConfig(valid, 'bot');
    expect(config).toMatchObject({
      discord: { token: TOKEN, appId: '123456789012345678', guildId: undefined, messageContent: false, adminRoleIds: [] },
      engine: { modelDir: 'models/sd15', provider: 'cpu', threads: 0, attentionStoreMb: 2048 },
      dbPath: join(homedir(), '.local', 'share', 'reprompt', 'reprompt.db'),
      queue: { maxLength: 50, userMaxPending: 3 },
      maxSteps: 50,
      maxSize: 768,
      defaults: { steps: 20, size: 512, guidance: 7.5, count: 1 },
      uploadLimitBytes: 10 * 1024 * 1024,
      progressIntervalMs: 3000,
    });
  });

  test('the database is kept outside the checkout: in $XDG_DATA_HOME/reprompt, else ~/.local/share/reprompt', () => {
    expect(loadConfig({ ...valid, XDG_DATA_HOME: join('/', 'srv', 'data') }, 'bot').dbPath).toBe(join('/', 'srv', 'data', 'reprompt', 'reprompt.db'));
    expect(loadConfig({ ...valid, XDG_DATA_HOME: 'relative', HOME: join('/', 'home', 'op') }, 'bot').dbPath).toBe(join('/', 'home', 'op', '.local', 'share', 'reprompt', 'reprompt.db'));
    expect(loadConfig({ ...valid, DB_PATH: 'data/bot.db' }, 'bot').dbPath).toBe('data/bot.db');
  });

  test('every problem is reported at once, each naming its variable and what is expected', () => {
    const message = problemsOf({ QUEUE_MAX: 'lots', MESSAGE_CONTENT: 'maybe', ADMIN_ROLE_IDS: '123456789012345678,abc', MAX_SIZE: '32', DEFAULT_CFG: 'x' });
    expect(message.split('\n')).toEqual([
      'Configuration is invalid:',
      '- DISCORD_TOKEN is required.',
      '- DISCORD_APP_ID is required (a Discord id: 17 to 20 digits).',
      '- MESSAGE_CONTENT must be true or false (got "maybe").',
      '- ADMIN_ROLE_IDS must be a comma-separated list of Discord ids (1 entries are not).',
      '- MODEL_DIR is required.',
      '- QUEUE_MAX must be a whole number from 1 to 10000 (got "lots").',
      '- MAX_SIZE must be a whole number from 64 to 4096 (got "32").',
      '- DEFAULT_CFG must be a number from -100 to 100 (got "x").',
      'See .env.example.',
    ]);
  });

  test('PROVIDER is checked against the providers onnxruntime-node lists; REDIS_URL must be a redis URL', () => {
    expect(loadConfig({ ...valid, PROVIDER: 'webgpu' }, 'bot').engine.provider).toBe('webgpu');
    const message = problemsOf({ ...valid, PROVIDER: 'dml', REDIS_URL: 'localhost:6379' });
    expect(message).toMatch(/- PROVIDER must be one of cpu, .*cuda.* \(the execution providers this onnxruntime-node lists\), got "dml"\./);
    expect(message).toContain('- REDIS_URL must be a redis:// or rediss:// URL.');
    expect(loadConfig({ ...valid, REDIS_URL: 'redis://10.0.0.5:6379/2' }, 'bot').redisUrl).toBe('redis://10.0.0.5:6379/2');
    expect(loadConfig(valid, 'bot').redisUrl).toBeUndefined();
  });

  test('the password in REDIS_URL never reaches the log either', () => {
    const config = loadConfig({ ...valid, REDIS_URL: 'redis://:a-long-redis-password@10.0.0.5:6379' }, 'bot');
    const lines: string[] = [];
    createLogger(redactor(config), (line) => lines.push(line)).warn('Redis said: bad auth for a-long-redis-password');
    expect(lines.join('\n')).not.toContain('a-long-redis-password');
  });

  test('defaults must fit the caps', () => {
    expect(problemsOf({ ...valid, MAX_STEPS: '10' })).toContain('DEFAULT_STEPS must not exceed MAX_STEPS (10).');
  });

  test('the console driver needs no Discord settings; registration needs no model', () => {
    expect(loadConfig({}, 'local').discord).toBeUndefined();
    expect(loadConfig({ DISCORD_TOKEN: TOKEN, DISCORD_APP_ID: '123456789012345678', DISCORD_GUILD_ID: '223456789012345678' }, 'register').discord?.guildId).toBe('223456789012345678');
  });

  test('the token never reaches the log, even inside an error', () => {
    const config = loadConfig(valid, 'bot');
    const lines: string[] = [];
    const log = createLogger(redactor(config), (line) => lines.push(line));
    log.error('login failed', new Error(`An invalid token was provided: ${TOKEN}`));
    log.info(`connecting with ${TOKEN}`);
    expect(lines.join('\n')).not.toContain(TOKEN);
    expect(lines.join('\n')).toContain('[redacted]');
    // A token pasted into the wrong variable is not echoed by validation either.
    expect(problemsOf({ ...valid, DISCORD_APP_ID: TOKEN })).not.toContain(TOKEN);
  });

  test('.env.example documents every variable the bot reads', () => {
    const example = readFileSync(join(repoRoot, '.env.example'), 'utf8');
    const source = readFileSync(join(repoRoot, 'src', 'bot', 'config.ts'), 'utf8');
    const read = [...source.matchAll(/read\.\w+\('([A-Z_]+)'/g)].map((m) => m[1]);
    expect(read.length).toBeGreaterThan(15);
    for (const name of read) expect(example).toMatch(new RegExp(`^#?\\s*${name}=`, 'm'));
  });
});
