/**
 * What the bot shows, independent of the transport: a rendered message (text, embed-like fields, image
 * attachments, rows of buttons) and a modal dialog. The discord.js adapter turns these into API payloads; the
 * console driver prints them.
 */

export type ButtonStyle = 'primary' | 'secondary' | 'success' | 'danger';

export interface Button {
  /** ≤ 80 characters on Discord. */
  label: string;
  /** `action:jobId` (see ../custom-id.ts), ≤ 100 characters, unique within a message. */
  customId: string;
  style: ButtonStyle;
  disabled?: boolean;
}

/** ≤ 5 buttons per row, ≤ 5 rows per message. */
export type ButtonRow = Button[];

export interface Attachment {
  /** File name with extension, e.g. `job-12.png`. */
  name: string;
  data: Uint8Array;
  /** Alt text. */
  description?: string;
}

export interface Field {
  name: string;
  value: string;
  inline?: boolean;
}

export interface RenderedMessage {
  /** ≤ 2000 characters. May contain user mentions as `<@userId>`. */
  content: string;
  /** Shown as one embed on Discord. */
  fields?: Field[];
  attachments?: Attachment[];
  rows?: ButtonRow[];
  /** Visible only to the person who caused it. Only interaction replies can be ephemeral. */
  ephemeral?: boolean;
}

export interface ModalField {
  /** Key of the submitted value. */
  id: string;
  /** ≤ 45 characters. */
  label: string;
  style: 'short' | 'paragraph';
  required: boolean;
  /** Pre-filled value. */
  value?: string;
  /** ≤ 100 characters. */
  placeholder?: string;
  maxLength?: number;
}

export interface Modal {
  /** `action:jobId`, like buttons. */
  customId: string;
  /** ≤ 45 characters. */
  title: string;
  /** 1 to 5 fields. */
  fields: ModalField[];
}

/** A message in a channel, addressable with the bot token (no interaction token needed). */
export interface MessageRef {
  channelId: string;
  messageId: string;
}

/** A user mention in message content, which both adapters understand. */
export const mention = (userId: string): string => `<@${userId}>`;

/** At most `edits` message edits per channel in any `windowMs` (Discord: about 30 a minute). */
export interface EditBudget {
  edits: number;
  windowMs: number;
}

/** A message that no longer exists (deleted by a user, or its channel is gone): editing it again is pointless. */
export class MessageGone extends Error {
  constructor(readonly ref: MessageRef) {
    super(`message ${ref.messageId} in channel ${ref.channelId} no longer exists`);
    this.name = 'MessageGone';
  }
}

export const isMessageGone = (e: unknown): e is MessageGone => e instanceof MessageGone;
