/**
 * Throttled edits of channel messages (queue position, progress): at most one edit per message per interval,
 * the newest content wins, edits of one message are sent in order, and a final edit is never dropped.
 */
import type { MessageRef, MessageSink, RenderedMessage } from './port/index.js';
import type { Logger } from './log.js';

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

interface Slot {
  ref: MessageRef;
  key: string;
  lastSentAt: number;
  /** The newest content not sent yet, and who waits for it. */
  pending?: RenderedMessage;
  waiters: Waiter[];
  timer?: NodeJS.Timeout;
  /** The chain of sends to this message, so they land in order. */
  sending: Promise<void>;
  /** A final edit was asked for: the slot is dropped once it is sent. */
  closing: boolean;
}

export class MessageUpdater {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly sink: MessageSink,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /** A best-effort update: coalesced with later ones, errors only logged. */
  update(ref: MessageRef, message: RenderedMessage): void {
    this.schedule(ref, message, false).catch((e) => this.log.warn(`could not update message ${ref.messageId}`, e));
  }

  /** The last word on a message (a result, a failure): resolves once sent, rejects when the edit failed. */
  final(ref: MessageRef, message: RenderedMessage): Promise<void> {
    return this.schedule(ref, message, true);
  }

  /** Sends every scheduled edit now and resolves when all have landed. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.slots.values()].map((slot) => this.send(slot)));
  }

  private schedule(ref: MessageRef, message: RenderedMessage, final: boolean): Promise<void> {
    const key = `${ref.channelId}/${ref.messageId}`;
    let slot = this.slots.get(key);
    // A late progress or position update must not replace a result or failure that is still waiting to be sent.
    if (slot?.closing && !final) return Promise.resolve();
    if (!slot) {
      slot = { ref, key, lastSentAt: 0, waiters: [], sending: Promise.resolve(), closing: false };
      this.slots.set(key, slot);
    }
    slot.pending = message;
    slot.closing ||= final;
    const target = slot;
    const sent = new Promise<void>((resolve, reject) => target.waiters.push({ resolve, reject }));
    if (!slot.timer) {
      const wait = Math.max(0, slot.lastSentAt + this.intervalMs - Date.now());
      slot.timer = setTimeout(() => void this.send(target), wait);
    }
    return sent;
  }

  private send(slot: Slot): Promise<void> {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    const { pending: message, waiters } = slot;
    if (!message) return slot.sending;
    slot.pending = undefined;
    slot.waiters = [];
    slot.lastSentAt = Date.now();
    slot.sending = slot.sending.then(() =>
      this.sink.edit(slot.ref, message).then(
        () => waiters.forEach((w) => w.resolve()),
        (error: unknown) => waiters.forEach((w) => w.reject(error)),
      ),
    );
    if (slot.closing) {
      void slot.sending.then(() => {
        if (!slot.pending && this.slots.get(slot.key) === slot) this.slots.delete(slot.key);
      });
    }
    return slot.sending;
  }
}
