/**
 * The console's channel: the bot-token message sink. Messages get ids m1, m2, …; each post or edit is printed
 * (status edits as one line) and image attachments are saved to the output folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageGone, type MessageRef, type MessageSink, type RenderedMessage } from '../port/index.js';
import { formatMessage, formatStatusLine, type NameOf } from './print.js';

export class ConsoleChannel implements MessageSink {
  private readonly messages = new Map<string, RenderedMessage>();
  /** Message ids in the order they were last posted or finished (for "the latest reply"). */
  private readonly recent: string[] = [];
  private next = 1;

  constructor(
    private readonly outDir: string,
    private readonly write: (line: string) => void,
    private readonly nameOf: NameOf,
  ) {}

  async post(channelId: string, message: RenderedMessage): Promise<MessageRef> {
    const messageId = `m${this.next++}`;
    this.show(messageId, message, 'posted');
    return { channelId, messageId };
  }

  async edit(ref: MessageRef, message: RenderedMessage): Promise<void> {
    if (!this.messages.has(ref.messageId)) throw new MessageGone(ref);
    this.show(ref.messageId, message, 'edited');
  }

  async delete(ref: MessageRef): Promise<void> {
    if (!this.messages.delete(ref.messageId)) throw new Error(`Unknown message ${ref.messageId}`);
    this.recent.splice(this.recent.indexOf(ref.messageId), 1);
    this.write(`[${ref.messageId}] (deleted)`);
  }

  get(messageId: string): RenderedMessage | undefined {
    return this.messages.get(messageId);
  }

  /** The newest message that matches, e.g. one with buttons or with an image. */
  latest(matches: (message: RenderedMessage) => boolean): { id: string; message: RenderedMessage } | undefined {
    for (let i = this.recent.length - 1; i >= 0; i--) {
      const message = this.messages.get(this.recent[i])!;
      if (matches(message)) return { id: this.recent[i], message };
    }
    return undefined;
  }

  private show(messageId: string, message: RenderedMessage, how: 'posted' | 'edited'): void {
    this.messages.set(messageId, message);
    const label = `[${messageId}]${how === 'edited' ? '*' : ''}`;
    if (how === 'edited' && isStatus(message)) {
      // A live preview is saved as a file of its own (one per step), named on the status line.
      const previews = this.save(message);
      this.write(formatStatusLine(label, message, this.nameOf) + previews.map((path) => ` · preview: ${path}`).join(''));
      return;
    }
    const index = this.recent.indexOf(messageId);
    if (index >= 0) this.recent.splice(index, 1);
    this.recent.push(messageId);
    for (const line of formatMessage(label, message, this.nameOf, this.save(message))) this.write(line);
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
