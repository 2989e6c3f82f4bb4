/**
 * The console channel's messages, kept in the job database (table console_messages) the way Discord keeps a
 * channel's messages: ids m1, m2, … never repeat after a restart, and the messages of an earlier session are
 * still there (a resumed job edits its status message; a button of yesterday's image still works).
 * Attachments are kept as the paths of the files the console saved, and read back from there.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Attachment, RenderedMessage } from '../port/index.js';

/** A stored attachment: its file instead of its bytes. */
type StoredAttachment = Omit<Attachment, 'data'> & { file: string };
type StoredMessage = Omit<RenderedMessage, 'attachments'> & { attachments?: StoredAttachment[] };

interface Row {
  id: number;
  body: string;
}

export class MessageBoard {
  private readonly db: Database.Database;

  /** Opens the table in the job database at `path` (a separate in-memory one for ':memory:'). */
  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // `shown` orders messages by when they were last posted or finished, for "the latest message with …".
    this.db.exec(`CREATE TABLE IF NOT EXISTS console_messages (
      id    INTEGER PRIMARY KEY AUTOINCREMENT,
      body  TEXT NOT NULL,
      shown INTEGER NOT NULL
    )`);
  }

  /** Stores a new message; `files` are the saved paths of its attachments, in order. Returns its id (m1, m2, …). */
  add(message: RenderedMessage, files: readonly string[]): string {
    const info = this.db.prepare('INSERT INTO console_messages (body, shown) VALUES (?, ?)').run(encode(message, files), this.nextShown());
    return `m${info.lastInsertRowid}`;
  }

  /** Replaces a message; `raise` makes it the newest one (a finished result, not a progress line). */
  replace(id: string, message: RenderedMessage, files: readonly string[], raise: boolean): void {
    const rowId = rowIdOf(id);
    if (raise) this.db.prepare('UPDATE console_messages SET body = ?, shown = ? WHERE id = ?').run(encode(message, files), this.nextShown(), rowId);
    else this.db.prepare('UPDATE console_messages SET body = ? WHERE id = ?').run(encode(message, files), rowId);
  }

  get(id: string): RenderedMessage | undefined {
    const row = this.db.prepare('SELECT id, body FROM console_messages WHERE id = ?').get(rowIdOf(id)) as Row | undefined;
    return row && decode(row.body);
  }

  has(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM console_messages WHERE id = ?').get(rowIdOf(id)) !== undefined;
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM console_messages WHERE id = ?').run(rowIdOf(id)).changes > 0;
  }

  /** The newest message (last posted or finished) that matches. */
  latest(matches: (message: RenderedMessage) => boolean): { id: string; message: RenderedMessage } | undefined {
    for (const row of this.db.prepare('SELECT id, body FROM console_messages ORDER BY shown DESC').iterate() as Iterable<Row>) {
      const message = decode(row.body);
      if (matches(message)) return { id: `m${row.id}`, message };
    }
    return undefined;
  }

  close(): void {
    this.db.close();
  }

  private nextShown(): number {
    return ((this.db.prepare('SELECT MAX(shown) AS top FROM console_messages').get() as { top: number | null }).top ?? 0) + 1;
  }
}

/** `m12` → 12; anything else matches no row. */
function rowIdOf(id: string): number {
  return /^m[1-9]\d{0,15}$/.test(id) ? Number(id.slice(1)) : -1;
}

function encode(message: RenderedMessage, files: readonly string[]): string {
  const stored: StoredMessage = {
    ...message,
    attachments: message.attachments?.map(({ data: _data, ...rest }, i) => ({ ...rest, file: files[i] ?? '' })),
  };
  return JSON.stringify(stored);
}

function decode(body: string): RenderedMessage {
  const stored = JSON.parse(body) as StoredMessage;
  return {
    ...stored,
    attachments: stored.attachments?.map(({ file, ...rest }) => ({ ...rest, data: file && existsSync(file) ? readFileSync(file) : new Uint8Array(0) })),
  };
}
