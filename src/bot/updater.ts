/**
 * Throttled edits of channel messages (queue position, progress, previews): at most one edit per message per
 * interval, and at most the sink's edit budget per channel, shared by every message there (Discord allows about
 * 30 edits a minute per channel). The newest content wins, edits of one message are sent in order, a final edit
 * is never dropped (it goes first when the channel's budget frees up), and a message that turned out to be gone
 * (deleted by a user) is not edited again.
 */
import { isMessageGone, MessageGone, type EditBudget, type MessageRef, type MessageSink, type RenderedMessage } from './port/index.js';
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
  /** The chain of sends to this message, so they land in order. */
  sending: Promise<void>;
  /** A final edit was asked for: the slot is dropped once it is sent. */
  closing: boolean;
}

/** One channel's share of the budget: when its recent edits were sent, and the wake-up that sends the next. */
interface Lane {
  sentAt: number[];
  timer?: NodeJS.Timeout;
  wakeAt: number;
}

const keyOf = (ref: MessageRef): string => `${ref.channelId}/${ref.messageId}`;
const compare = (a: number, b: number): number => (a === b ? 0 : a < b ? -1 : 1);
/** Deleted messages remembered (the oldest are forgotten first). */
const GONE_REMEMBERED = 10_000;

export class MessageUpdater {
  private readonly slots = new Map<string, Slot>();
  private readonly lanes = new Map<string, Lane>();
  /** Messages found deleted: never edited again. */
  private readonly gone = new Set<string>();

  constructor(
    private readonly sink: MessageSink,
    private readonly intervalMs: number,
    private readonly log: Logger,
    private readonly budget: EditBudget | undefined = sink.editBudget,
  ) {}

  /** A best-effort update: coalesced with later ones, errors only logged. */
  update(ref: MessageRef, message: RenderedMessage): void {
    this.schedule(ref, message, false).catch((e) => {
      if (!isMessageGone(e)) this.log.warn(`could not update message ${ref.messageId}`, e);
    });
  }

  /**
   * The last word on a message (a result, a failure): resolves once sent, rejects when the edit failed (with
   * MessageGone, at once, for a message already known to be deleted).
   */
  final(ref: MessageRef, message: RenderedMessage): Promise<void> {
    return this.schedule(ref, message, true);
  }

  /** Sends every scheduled edit now, budget or not (shutdown, tests), and resolves when all have landed. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.slots.values()].map((slot) => this.send(slot)));
  }

  private schedule(ref: MessageRef, message: RenderedMessage, final: boolean): Promise<void> {
    const key = keyOf(ref);
    if (this.gone.has(key)) return final ? Promise.reject(new MessageGone(ref)) : Promise.resolve();
    let slot = this.slots.get(key);
    // A late progress or position update must not replace a result or failure that is still waiting to be sent.
    if (slot?.closing && !final) return Promise.resolve();
    if (!slot) {
      slot = { ref, key, lastSentAt: -Infinity, waiters: [], sending: Promise.resolve(), closing: false };
      this.slots.set(key, slot);
    }
    slot.pending = message;
    slot.closing ||= final;
    const target = slot;
    const sent = new Promise<void>((resolve, reject) => target.waiters.push({ resolve, reject }));
    // Not at once: a burst of updates in the same tick coalesces into its newest content.
    this.wake(ref.channelId, Date.now());
    return sent;
  }

  /** Makes sure the channel's lane runs no later than `at`. */
  private wake(channelId: string, at: number): void {
    let lane = this.lanes.get(channelId);
    if (!lane) {
      lane = { sentAt: [], wakeAt: Infinity };
      this.lanes.set(channelId, lane);
    }
    if (lane.timer && lane.wakeAt <= at) return;
    clearTimeout(lane.timer);
    lane.wakeAt = at;
    lane.timer = setTimeout(() => this.pump(channelId), Math.max(0, at - Date.now()));
  }

  /**
   * Sends what the channel's budget allows now: finals first, then the messages edited least recently, each no
   * sooner than the interval after its own last edit. Then sleeps until the next one may go.
   */
  private pump(channelId: string): void {
    const lane = this.lanes.get(channelId)!;
    lane.timer = undefined;
    lane.wakeAt = Infinity;
    const now = Date.now();
    if (this.budget) lane.sentAt = lane.sentAt.filter((t) => t > now - this.budget!.windowMs);
    const waiting = [...this.slots.values()].filter((s) => s.ref.channelId === channelId && s.pending);
    const dueAt = (s: Slot): number => (s.closing ? now : s.lastSentAt + this.intervalMs);
    const ready = waiting
      .filter((s) => dueAt(s) <= now)
      .sort((a, b) => Number(b.closing) - Number(a.closing) || compare(a.lastSentAt, b.lastSentAt));
    for (const slot of ready) {
      if (this.budget && lane.sentAt.length >= this.budget.edits) break;
      lane.sentAt.push(now);
      void this.send(slot);
    }
    const later = waiting.filter((s) => s.pending);
    if (later.length === 0) {
      if (lane.sentAt.length === 0) this.lanes.delete(channelId);
      return;
    }
    let next = Math.min(...later.map(dueAt));
    if (this.budget && lane.sentAt.length >= this.budget.edits) next = Math.max(next, lane.sentAt[0] + this.budget.windowMs);
    this.wake(channelId, Math.max(next, now));
  }

  private send(slot: Slot): Promise<void> {
    const { pending: message, waiters } = slot;
    if (!message) return slot.sending;
    slot.pending = undefined;
    slot.waiters = [];
    slot.lastSentAt = Date.now();
    slot.sending = slot.sending.then(() =>
      this.sink.edit(slot.ref, message).then(
        () => waiters.forEach((w) => w.resolve()),
        (error: unknown) => {
          if (isMessageGone(error)) this.markGone(slot);
          waiters.forEach((w) => w.reject(error));
        },
      ),
    );
    if (slot.closing) {
      void slot.sending.then(() => {
        if (!slot.pending && this.slots.get(slot.key) === slot) this.slots.delete(slot.key);
      });
    }
    return slot.sending;
  }

  /** The message was deleted: one line in the log, no more edits (a final waiting for it is rejected too). */
  private markGone(slot: Slot): void {
    if (this.gone.has(slot.key)) return;
    this.gone.add(slot.key);
    if (this.gone.size > GONE_REMEMBERED) this.gone.delete(this.gone.values().next().value!);
    this.log.info(`message ${slot.ref.messageId} in channel ${slot.ref.channelId} was deleted; no more edits to it`);
    if (this.slots.get(slot.key) === slot) this.slots.delete(slot.key);
    const late = slot.waiters;
    slot.pending = undefined;
    slot.waiters = [];
    late.forEach((w) => w.reject(new MessageGone(slot.ref)));
  }
}
