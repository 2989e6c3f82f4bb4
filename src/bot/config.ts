/**
 * Bot configuration from the environment (.env through dotenv), validated once at start. Every problem is
 * reported at once, each naming its variable and what is expected. `.env.example` documents every variable.
 */
import { join } from 'node:path';
import { isUserError, UserError } from '../engine/errors.js';
import type { ProviderName } from '../engine/onnx/session.js';
import { parseProvider } from '../engine/providers.js';
import { GRID_COUNT_RANGE } from '../engine/grid.js';
import { defaultDataDir } from './data-dir.js';

/** The bot's job database when DB_PATH is not set: outside the checkout, since it holds users' prompts. */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(defaultDataDir(env), 'reprompt.db');
}

export interface DiscordConfig {
  token: string;
  appId: string;
  /** Set: commands are registered in this guild only (instant, for development). */
  guildId?: string;
  /** Plain replies `cat→dog` to a bot image edit it (needs the privileged Message Content intent). */
  messageContent: boolean;
  adminRoleIds: string[];
}

export interface EngineConfig {
  /**
   * '' = not configured. With REDIS_URL only its last part is used: the model name that jobs ask workers for
   * (the folder need not exist on the bot's machine).
   */
  modelDir: string;
  provider: ProviderName;
  /** 0 = let ONNX Runtime decide. */
  threads: number;
  /** Memory for stored source attention (edits of the same source reuse it). */
  attentionStoreMb: number;
}

/** How many jobs run at once is not a setting: it is the number of engines (one in-process, or the workers on Redis). */
export interface QueueConfig {
  /** Jobs waiting (not running) before new ones are refused. */
  maxLength: number;
  /** Queued + running jobs one user may have. */
  userMaxPending: number;
}

export interface BotConfig {
  /** Absent for the offline console driver. */
  discord?: DiscordConfig;
  engine: EngineConfig;
  /** redis:// URL of the BullMQ queue that engine workers (`reprompt worker`) take jobs from; absent = the engine runs in-process. */
  redisUrl?: string;
  dbPath: string;
  queue: QueueConfig;
  /** Operator caps, combined with the model's own limits. */
  maxSteps: number;
  maxSize: number;
  defaults: { steps: number; size: number; guidance: number; count: number };
  uploadLimitBytes: number;
  /** Minimum time between two edits of the same message (progress, queue position). */
  progressIntervalMs: number;
}

export type ConfigNeeds = 'bot' | 'register' | 'local';

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and validates the configuration; throws one UserError listing every bad variable. */
export function loadConfig(env: Env, needs: ConfigNeeds): BotConfig {
  const read = new EnvReader(env);
  const needsDiscord = needs !== 'local';
  const discord: DiscordConfig | undefined = needsDiscord
    ? {
        token: read.string('DISCORD_TOKEN', { required: true }),
        appId: read.snowflake('DISCORD_APP_ID', { required: true }) ?? '',
        guildId: read.snowflake('DISCORD_GUILD_ID', { required: false }),
        messageContent: read.boolean('MESSAGE_CONTENT', false),
        adminRoleIds: read.snowflakeList('ADMIN_ROLE_IDS'),
      }
    : undefined;
  const config: BotConfig = {
    discord,
    engine: {
      // '' when unset (the console driver then falls back to the CLI's default model).
      modelDir: read.string('MODEL_DIR', { required: needs === 'bot' }),
      provider: read.provider('PROVIDER', 'cpu'),
      threads: read.integer('THREADS', 0, { min: 0, max: 256 }),
      attentionStoreMb: read.integer('ATTENTION_STORE_MB', 2048, { min: 0, max: 1_048_576 }),
    },
    redisUrl: read.string('REDIS_URL', {
      required: false,
      pattern: { re: /^rediss?:\/\/\S+$/, expected: 'a redis:// or rediss:// URL' },
    }) || undefined,
    dbPath: read.string('DB_PATH', { required: false, fallback: defaultDbPath(env) }),
    queue: {
      maxLength: read.integer('QUEUE_MAX', 50, { min: 1, max: 10_000 }),
      userMaxPending: read.integer('USER_MAX_PENDING', 3, { min: 1, max: 1000 }),
    },
    maxSteps: read.integer('MAX_STEPS', 50, { min: 1, max: 1000 }),
    maxSize: read.integer('MAX_SIZE', 768, { min: 64, max: 4096 }),
    defaults: {
      steps: read.integer('DEFAULT_STEPS', 20, { min: 1, max: 1000 }),
      size: read.integer('DEFAULT_SIZE', 512, { min: 64, max: 4096 }),
      guidance: read.number('DEFAULT_CFG', 7.5, { min: -100, max: 100 }),
      count: read.integer('DEFAULT_COUNT', 1, { min: 1, max: GRID_COUNT_RANGE.max }),
    },
    uploadLimitBytes: Math.round(read.number('UPLOAD_LIMIT_MB', 10, { min: 0.1, max: 500 }) * 1024 * 1024),
    progressIntervalMs: read.integer('PROGRESS_INTERVAL_MS', 3000, { min: 1000, max: 60_000 }),
  };
  if (config.defaults.steps > config.maxSteps) read.problem('DEFAULT_STEPS', `must not exceed MAX_STEPS (${config.maxSteps})`);
  if (config.defaults.count > config.queue.userMaxPending) {
    read.problem('DEFAULT_COUNT', `must not exceed USER_MAX_PENDING (${config.queue.userMaxPending}): a grid counts as that many of a user's jobs`);
  }
  if (config.defaults.size > config.maxSize) read.problem('DEFAULT_SIZE', `must not exceed MAX_SIZE (${config.maxSize})`);
  read.throwIfProblems();
  return config;
}

/** Hides every secret of the configuration in a text (log lines, error messages). */
export function redactor(config: BotConfig): (text: string) => string {
  const secrets = [config.discord?.token, redisPassword(config.redisUrl)].filter((s): s is string => !!s && s.length >= 8);
  return (text) => secrets.reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}

function redisPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

class EnvReader {
  private readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  problem(name: string, expected: string, got?: string): void {
    this.problems.push(`${name} ${expected}${got === undefined ? '' : ` (got ${JSON.stringify(got)})`}.`);
  }

  throwIfProblems(): void {
    if (this.problems.length === 0) return;
    throw new UserError('bad_input', `Configuration is invalid:\n- ${this.problems.join('\n- ')}\nSee .env.example.`);
  }

  private raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === '' ? undefined : value;
  }

  string(name: string, opts: { required: boolean; fallback?: string; pattern?: { re: RegExp; expected: string } }): string {
    const value = this.raw(name);
    if (value === undefined) {
      if (opts.required) this.problem(name, 'is required');
      return opts.fallback ?? '';
    }
    if (opts.pattern && !opts.pattern.re.test(value)) {
      // Never echo the value back: it may be a secret pasted into the wrong variable.
      this.problem(name, `must be ${opts.pattern.expected}`);
    }
    return value;
  }

  /** An execution provider this onnxruntime-node installation lists (see engine/providers.ts). */
  provider(name: string, fallback: ProviderName): ProviderName {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    try {
      return parseProvider(value, name);
    } catch (e) {
      if (!isUserError(e)) throw e;
      this.problems.push(e.message);
      return fallback;
    }
  }

  snowflake(name: string, opts: { required: boolean }): string | undefined {
    const value = this.raw(name);
    if (value === undefined) {
      if (opts.required) this.problem(name, 'is required (a Discord id: 17 to 20 digits)');
      return undefined;
    }
    // Ids are not echoed: a token pasted into the wrong variable must not reach the log.
    if (!isSnowflake(value)) this.problem(name, 'must be a Discord id (17 to 20 digits)');
    return value;
  }

  snowflakeList(name: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    const ids = value.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = ids.filter((id) => !isSnowflake(id));
    if (bad.length > 0) this.problem(name, `must be a comma-separated list of Discord ids (${bad.length} entries are not)`);
    return ids.filter(isSnowflake);
  }

  integer(name: string, fallback: number, range: { min: number; max: number }): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < range.min || n > range.max) {
      this.problem(name, `must be a whole number from ${range.min} to ${range.max}`, value);
      return fallback;
    }
    return n;
  }

  number(name: string, fallback: number, range: { min: number; max: number }): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < range.min || n > range.max) {
      this.problem(name, `must be a number from ${range.min} to ${range.max}`, value);
      return fallback;
    }
    return n;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(value)) return true;
    if (['0', 'false', 'no', 'off'].includes(value)) return false;
    this.problem(name, 'must be true or false', value);
    return fallback;
  }
}

const isSnowflake = (s: string): boolean => /^\d{17,20}$/.test(s);
