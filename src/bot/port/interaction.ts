/**
 * The transport-neutral model of what commands receive: an incoming interaction (slash command, button press,
 * modal submit, message context-menu command, or a plain reply to a bot message) with the operations to answer
 * it, and a channel message sink that works with the bot token after the 15-minute interaction token is gone.
 */
import type { EditBudget, MessageRef, Modal, RenderedMessage } from './message.js';

export interface UserRef {
  id: string;
  /** Display name, for logs and the console. */
  name: string;
}

export type OptionValue = string | number | boolean;

/** A file a user attached (an attachment option, or a file on a message), as Discord describes it. */
export interface IncomingAttachment {
  name: string;
  /** Where Discord serves it (its CDN): the only address the bot downloads it from. */
  url: string;
  /** The MIME type Discord reports (absent when it does not know). */
  contentType?: string;
  /** Bytes, as Discord reports them. */
  size: number;
  /** The bytes themselves when the transport has them at hand (the console reads a local file): not downloaded. */
  data?: Uint8Array;
}

/** The answer operations. The first answer (defer, reply or showModal) must come within 3 s on Discord. */
export interface Responder {
  /** True once defer, reply or showModal has been called. */
  readonly acknowledged: boolean;
  /** True when the first answer was a defer (later answers go through editReply). */
  readonly deferred: boolean;
  /** "Thinking…"; the ephemeral state is fixed here and cannot change later. */
  defer(options?: { ephemeral?: boolean }): Promise<void>;
  reply(message: RenderedMessage): Promise<void>;
  /** Replaces the deferred or first reply. */
  editReply(message: RenderedMessage): Promise<void>;
  followUp(message: RenderedMessage): Promise<void>;
  /** Only as the first answer. */
  showModal(modal: Modal): Promise<void>;
}

interface InteractionBase extends Responder {
  user: UserRef;
  /** Server owner, Manage Server permission, or one of the configured admin roles. */
  isAdmin: boolean;
  channelId: string;
  /** null in DMs. */
  guildId: string | null;
}

export interface SlashInteraction extends InteractionBase {
  kind: 'slash';
  command: string;
  subcommand?: string;
  /** Options the user gave, already typed (strings, integers/numbers, booleans). */
  options: Readonly<Record<string, OptionValue>>;
  /** Attachment options the user gave, by option name. */
  attachments?: Readonly<Record<string, IncomingAttachment>>;
}

export interface ButtonInteraction extends InteractionBase {
  kind: 'button';
  customId: string;
  /** The message the button is attached to. */
  message: MessageRef;
}

export interface ModalSubmitInteraction extends InteractionBase {
  kind: 'modal';
  customId: string;
  /** Field id → text the user typed ('' for an empty optional field). */
  fields: Readonly<Record<string, string>>;
}

export interface MessageMenuInteraction extends InteractionBase {
  kind: 'message-menu';
  /** The context-menu command's name, e.g. "Edit with prompt". */
  command: string;
  target: MessageRef;
  /** The target message's files (any author's). */
  targetAttachments?: readonly IncomingAttachment[];
}

/** A plain message replying to one of the bot's messages (needs the message-content intent). */
export interface MessageReplyInteraction extends InteractionBase {
  kind: 'reply';
  content: string;
  repliedTo: MessageRef;
}

export type Interaction =
  | SlashInteraction
  | ButtonInteraction
  | ModalSubmitInteraction
  | MessageMenuInteraction
  | MessageReplyInteraction;

/** Posts and edits channel messages with the bot token: job results that finish after 15 minutes still land. */
export interface MessageSink {
  post(channelId: string, message: RenderedMessage): Promise<MessageRef>;
  /** Replaces content, fields, attachments and buttons. Rejects with MessageGone when the message no longer exists. */
  edit(ref: MessageRef, message: RenderedMessage): Promise<void>;
  delete(ref: MessageRef): Promise<void>;
  /** How many edits the transport allows per channel (shared by all messages there); undefined = no limit. */
  readonly editBudget?: EditBudget;
}
