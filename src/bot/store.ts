/**
 * Every job the bot accepted, in SQLite (better-sqlite3, WAL). Buttons carry only a job id, so they keep working
 * after a restart; jobs still queued or running when the process stopped are found again at start.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ErrorValue } from '../engine/errors.js';
import type { Trajectory } from '../engine/trajectory.js';
import type { JobOrigin, JobOutcome, JobRecord, JobRequest, JobStatus } from './job.js';

/** Schema versions, applied in order; PRAGMA user_version records how many have run. Never edit a shipped one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE jobs (
     id            INTEGER PRIMARY KEY AUTOINCREMENT,
     kind          TEXT NOT NULL CHECK (kind IN ('imagine', 'edit')),
     request       TEXT NOT NULL,
     origin        TEXT NOT NULL,
     parent_id     INTEGER REFERENCES jobs(id),
     user_id       TEXT NOT NULL,
     user_name     TEXT NOT NULL,
     guild_id      TEXT,
     channel_id    TEXT NOT NULL,
     message_id    TEXT,
     status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
     created_at    INTEGER NOT NULL,
     started_at    INTEGER,
     finished_at   INTEGER,
     error_code    TEXT,
     error_message TEXT,
     outcome       TEXT,
     deleted_at    INTEGER
   );
   CREATE INDEX jobs_by_message ON jobs (message_id);
   CREATE INDEX jobs_by_user_channel ON jobs (user_id, channel_id, status);
   CREATE INDEX jobs_by_status ON jobs (status);`,
  // Source trajectories (the state an edit needs of its source image), keyed by the source's parameters.
  `CREATE TABLE trajectories (
     key          TEXT PRIMARY KEY,
     shape        TEXT NOT NULL,
     data         BLOB NOT NULL,
     bytes        INTEGER NOT NULL,
     created_at   INTEGER NOT NULL,
     last_used_at INTEGER NOT NULL
   );
   CREATE INDEX trajectories_by_use ON trajectories (last_used_at);`,
  // Vary / Upscale jobs and grids (kinds 'img2img', 'imagine-grid': SQLite changes a CHECK only by rebuilding the
  // table), and the PNG of every finished image, which Vary and Upscale start from.
  `CREATE TABLE jobs_v2 (
     id            INTEGER PRIMARY KEY AUTOINCREMENT,
     kind          TEXT NOT NULL CHECK (kind IN ('imagine', 'edit', 'img2img', 'imagine-grid')),
     request       TEXT NOT NULL,
     origin        TEXT NOT NULL,
     parent_id     INTEGER REFERENCES jobs_v2(id),
     user_id       TEXT NOT NULL,
     user_name     TEXT NOT NULL,
     guild_id      TEXT,
     channel_id    TEXT NOT NULL,
     message_id    TEXT,
     status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
     created_at    INTEGER NOT NULL,
     started_at    INTEGER,
     finished_at   INTEGER,
     error_code    TEXT,
     error_message TEXT,
     outcome       TEXT,
     deleted_at    INTEGER
   );
   INSERT INTO jobs_v2 SELECT * FROM jobs;
   DROP TABLE jobs;
   ALTER TABLE jobs_v2 RENAME TO jobs;
   CREATE INDEX jobs_by_message ON jobs (message_id);
   CREATE INDEX jobs_by_user_channel ON jobs (user_id, channel_id, status);
   CREATE INDEX jobs_by_status ON jobs (status);
   CREATE TABLE images (
     job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
     png    BLOB NOT NULL
   );`,
  // Users' pictures (preprocessed PNGs) that edits start from, by id (SHA-256): re-edits invert them again when
  // their trajectory was evicted.
  `CREATE TABLE photos (
     id         TEXT PRIMARY KEY,
     png        BLOB NOT NULL,
     width      INTEGER NOT NULL,
     height     INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   );`,
];

/** A user's picture as edits start from it: the preprocessed PNG at the edit's size, by its id (SHA-256). */
export interface StoredPhoto {
  id: string;
  png: Uint8Array;
  width: number;
  height: number;
}

/** What a caller knows of a job before it is stored. */
export type NewJob = Pick<JobRecord, 'request' | 'origin' | 'parentId' | 'userId' | 'userName' | 'guildId' | 'channelId'>;

interface JobRow {
  id: number;
  request: string;
  origin: string;
  parent_id: number | null;
  user_id: string;
  user_name: string;
  guild_id: string | null;
  channel_id: string;
  message_id: string | null;
  status: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  error_code: string | null;
  error_message: string | null;
  outcome: string | null;
  deleted_at: number | null;
}

export class JobStore {
  private readonly db: Database.Database;

  /** Opens (creating if needed) the database file and brings its schema up to date. ':memory:' works too. */
  constructor(path: string, private readonly now: () => number = Date.now) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(): void {
    for (let version = this.schemaVersion; version < MIGRATIONS.length; version++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[version]);
        this.db.pragma(`user_version = ${version + 1}`);
      })();
    }
  }

  create(job: NewJob): JobRecord {
    const info = this.db
      .prepare(
        `INSERT INTO jobs (kind, request, origin, parent_id, user_id, user_name, guild_id, channel_id, status, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?)`,
      )
      .run(job.request.kind, JSON.stringify(job.request), job.origin, job.parentId, job.userId, job.userName, job.guildId, job.channelId, this.now());
    return this.require(Number(info.lastInsertRowid));
  }

  get(id: number): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row && toRecord(row);
  }

  /** Like get, for ids the bot itself holds (a missing one is a bug). */
  require(id: number): JobRecord {
    const job = this.get(id);
    if (!job) throw new Error(`job ${id} is not in the store`);
    return job;
  }

  byMessage(messageId: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE message_id = ? ORDER BY id DESC LIMIT 1').get(messageId) as JobRow | undefined;
    return row && toRecord(row);
  }

  /**
   * The image the user means in a channel: their newest one that is done (they can see it) or that they asked for
   * with a command (/imagine, /edit; still queued or running: an edit needs only its parameters). A button's
   * variation still on its way is skipped (the user has not seen it yet), and so are failed, cancelled and deleted
   * jobs, attention maps and a grid's candidates (the user saw the grid: an edit of it asks which candidate).
   */
  latestImage(userId: string, channelId: string): JobRecord | undefined {
    const row = this.db
      .prepare(
        `SELECT * FROM jobs WHERE user_id = ? AND channel_id = ? AND status IN ('queued', 'running', 'done')
           AND deleted_at IS NULL AND origin NOT IN ('attention', 'grid') AND (status = 'done' OR origin IN ('imagine', 'edit'))
         ORDER BY id DESC LIMIT 1`,
      )
      .get(userId, channelId) as JobRow | undefined;
    return row && toRecord(row);
  }

  /** Jobs that were queued or running, oldest first (to resume after a restart). */
  unfinished(): JobRecord[] {
    const rows = this.db.prepare(`SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY id`).all() as JobRow[];
    return rows.map(toRecord);
  }

  setMessage(id: number, messageId: string): JobRecord {
    this.db.prepare('UPDATE jobs SET message_id = ? WHERE id = ?').run(messageId, id);
    return this.require(id);
  }

  markRunning(id: number): JobRecord {
    this.db.prepare(`UPDATE jobs SET status = 'running', started_at = ? WHERE id = ?`).run(this.now(), id);
    return this.require(id);
  }

  /** A running job interrupted by a restart goes back to the queue. */
  requeue(id: number): JobRecord {
    this.db.prepare(`UPDATE jobs SET status = 'queued', started_at = NULL WHERE id = ?`).run(id);
    return this.require(id);
  }

  /** The jobs made from `parentId` with this origin, oldest first (a grid's candidates: origin 'grid'). */
  children(parentId: number, origin: JobOrigin): JobRecord[] {
    const rows = this.db.prepare('SELECT * FROM jobs WHERE parent_id = ? AND origin = ? ORDER BY id').all(parentId, origin) as JobRow[];
    return rows.map(toRecord);
  }

  /** Stores a job that is finished already (a grid's candidate), with its image, in one transaction. */
  createDone(job: NewJob, outcome: JobOutcome, png: Uint8Array): JobRecord {
    return this.db.transaction(() => {
      const { id } = this.create(job);
      const now = this.now();
      this.db.prepare(`UPDATE jobs SET status = 'done', started_at = ?, finished_at = ?, outcome = ? WHERE id = ?`).run(now, now, JSON.stringify(outcome), id);
      this.saveImage(id, png);
      return this.require(id);
    })();
  }

  /** Keeps the PNG of a finished job's image (what Vary and Upscale start from). */
  saveImage(id: number, png: Uint8Array): void {
    this.db.prepare('INSERT OR REPLACE INTO images (job_id, png) VALUES (?, ?)').run(id, Buffer.from(png.buffer, png.byteOffset, png.byteLength));
  }

  /** The PNG of a finished job's image; undefined for jobs finished before images were kept. */
  image(id: number): Uint8Array | undefined {
    const row = this.db.prepare('SELECT png FROM images WHERE job_id = ?').get(id) as { png: Buffer } | undefined;
    return row && new Uint8Array(row.png);
  }

  markDone(id: number, outcome: JobOutcome): JobRecord {
    return this.finish(id, 'done', { outcome: JSON.stringify(outcome) });
  }

  markFailed(id: number, error: ErrorValue): JobRecord {
    return this.finish(id, 'failed', { error_code: error.code, error_message: error.message });
  }

  markCancelled(id: number): JobRecord {
    return this.finish(id, 'cancelled', {});
  }

  markDeleted(id: number): JobRecord {
    this.db.prepare('UPDATE jobs SET deleted_at = ? WHERE id = ?').run(this.now(), id);
    return this.require(id);
  }

  private finish(id: number, status: JobStatus, extra: Partial<Record<'outcome' | 'error_code' | 'error_message', string>>): JobRecord {
    this.db
      .prepare(
        `UPDATE jobs SET status = ?, finished_at = ?, outcome = ?, error_code = ?, error_message = ? WHERE id = ?`,
      )
      .run(status, this.now(), extra.outcome ?? null, extra.error_code ?? null, extra.error_message ?? null, id);
    return this.require(id);
  }

  close(): void {
    this.db.close();
  }

  // ---- Source trajectories: a byte-bounded cache, least recently used out first ----

  /**
   * Stores a trajectory (float32, little-endian) under `key`, then evicts the least recently used ones until the
   * table holds at most `budgetBytes` of latents. One larger than the whole budget is not kept (returns false).
   */
  putTrajectory(key: string, trajectory: Trajectory, budgetBytes: number): boolean {
    const { data, shape } = trajectory;
    if (data.byteLength > budgetBytes) return false;
    const now = this.now();
    this.db.transaction(() => {
      this.db
        .prepare('INSERT OR REPLACE INTO trajectories (key, shape, data, bytes, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(key, JSON.stringify(shape), Buffer.from(data.buffer, data.byteOffset, data.byteLength), data.byteLength, now, now);
      let total = (this.db.prepare('SELECT COALESCE(SUM(bytes), 0) AS total FROM trajectories').get() as { total: number }).total;
      const oldest = this.db.prepare('SELECT key, bytes FROM trajectories WHERE key <> ? ORDER BY last_used_at, rowid').all(key) as { key: string; bytes: number }[];
      const remove = this.db.prepare('DELETE FROM trajectories WHERE key = ?');
      for (const row of oldest) {
        if (total <= budgetBytes) break;
        remove.run(row.key);
        total -= row.bytes;
      }
    })();
    return true;
  }

  /** The trajectory under `key` (now the most recently used), or undefined. */
  getTrajectory(key: string): Trajectory | undefined {
    const row = this.db.prepare('SELECT shape, data FROM trajectories WHERE key = ?').get(key) as { shape: string; data: Buffer } | undefined;
    if (!row) return undefined;
    this.db.prepare('UPDATE trajectories SET last_used_at = ? WHERE key = ?').run(this.now(), key);
    // Copied into an aligned buffer of its own (the row's Buffer may sit at any offset of a shared one).
    const bytes = new Uint8Array(row.data.byteLength);
    bytes.set(row.data);
    return { data: new Float32Array(bytes.buffer), shape: JSON.parse(row.shape) as Trajectory['shape'] };
  }

  // ---- Users' pictures ----

  /** Keeps a preprocessed picture under its id (the same picture twice is kept once). */
  putPhoto(photo: StoredPhoto): void {
    this.db
      .prepare('INSERT OR IGNORE INTO photos (id, png, width, height, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(photo.id, Buffer.from(photo.png.buffer, photo.png.byteOffset, photo.png.byteLength), photo.width, photo.height, this.now());
  }

  getPhoto(id: string): StoredPhoto | undefined {
    const row = this.db.prepare('SELECT id, png, width, height FROM photos WHERE id = ?').get(id) as
      | { id: string; png: Buffer; width: number; height: number }
      | undefined;
    return row ? { id: row.id, png: new Uint8Array(row.png), width: row.width, height: row.height } : undefined;
  }

  /** Trajectories kept and their bytes. */
  trajectoryStats(): { entries: number; bytes: number } {
    return this.db.prepare('SELECT COUNT(*) AS entries, COALESCE(SUM(bytes), 0) AS bytes FROM trajectories').get() as { entries: number; bytes: number };
  }
}

function toRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    request: JSON.parse(row.request) as JobRequest,
    origin: row.origin as JobOrigin,
    parentId: row.parent_id,
    userId: row.user_id,
    userName: row.user_name,
    guildId: row.guild_id,
    channelId: row.channel_id,
    messageId: row.message_id,
    status: row.status as JobStatus,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    error: row.error_code ? ({ code: row.error_code, message: row.error_message ?? '' } as ErrorValue) : null,
    outcome: row.outcome ? (JSON.parse(row.outcome) as JobOutcome) : null,
    deleted: row.deleted_at !== null,
  };
}
