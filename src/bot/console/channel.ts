/**
 * The console's channel: the bot-token message sink. Messages get ids m1, m2, … (kept in the job database, so
 * they survive a restart and never repeat); each post or edit is printed (status edits as one line) and image
 * attachments are saved to the output folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageGone, type MessageRef, type MessageSink, type RenderedMessage } from '../port/index.js';
import { MessageBoard } from './messages.js';
import { formatMessage, formatStatusLine, type NameOf } from './print.js';

export class ConsoleChannel implements MessageSink {
  private readonly board: MessageBoard;

  constructor(
    private readonly outDir: string,
    private readonly write: (line: string) => void,
    private readonly nameOf: NameOf,
    /** The job database; the channel's messages are kept in it. */
    dbPath: string,
  ) {
    this.board = new MessageBoard(dbPath);
  }

  async post(channelId: string, message: RenderedMessage): Promise<MessageRef> {
    const files = this.save(message);
    const messageId = this.board.add(message, files);
    this.print(`[${messageId}]`, message, files);
    return { channelId, messageId };
  }

  async edit(ref: MessageRef, message: RenderedMessage): Promise<void> {
    if (!this.board.has(ref.messageId)) throw new MessageGone(ref);
    const label = `[${ref.messageId}]*`;
    if (isStatus(message)) {
      // A live preview is saved as a file of its own (one per step), named on the status line.
      const previews = this.save(message);
      this.board.replace(ref.messageId, message, [], false);
      this.write(formatStatusLine(label, message, this.nameOf) + previews.map((path) => ` · preview: ${path}`).join(''));
      return;
    }
    const files = this.save(message);
    this.board.replace(ref.messageId, message, files, true);
    this.print(label, message, files);
  }

  async delete(ref: MessageRef): Promise<void> {
    if (!this.board.delete(ref.messageId)) throw new Error(`Unknown message ${ref.messageId}`);
    this.write(`[${ref.messageId}] (deleted)`);
  }

  get(messageId: string): RenderedMessage | undefined {
    return this.board.get(messageId);
  }

  /** The newest message (last posted or finished) that matches, e.g. one with buttons or with an image. */
  latest(matches: (message: RenderedMessage) => boolean): { id: string; message: RenderedMessage } | undefined {
    return this.board.latest(matches);
  }

  close(): void {
    this.board.close();
  }

  private print(label: string, message: RenderedMessage, files: readonly string[]): void {
    for (const line of formatMessage(label, message, this.nameOf, files)) this.write(line);
  }

  private save(message: RenderedMessage): string[] {
    if (!message.attachments?.length) return [];
    mkdirSync(this.outDir, { recursive: true });
    return message.attachments.map((a) => {
      const path = join(this.outDir, a.name);
      writeFileSync(path, a.data);
      return path;
    });
  }
}

/** A queued/running status message: its only button is Cancel. Its edits are progress, printed on one line. */
const isStatus = (message: RenderedMessage): boolean => {
  const buttons = (message.rows ?? []).flat();
  return buttons.length === 1 && buttons[0].customId.startsWith('cancel:');
};
