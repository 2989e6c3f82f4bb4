/**
 * discord.js interactions and messages → port interactions. Options arrive typed, button and modal ids as they
 * are, and the answer operations map onto deferReply / reply / editReply / followUp / showModal.
 */
import {
  ApplicationCommandOptionType,
  ComponentType,
  GuildMemberRoleManager,
  MessageFlags,
  PermissionFlagsBits,
  type APIInteractionGuildMember,
  type Attachment as DjsAttachment,
  type GuildMember,
  type Interaction as DjsInteraction,
  type Message,
  type PermissionsBitField,
  type RepliableInteraction,
} from 'discord.js';
import type { IncomingAttachment, Interaction, MessageReplyInteraction, Modal, OptionValue, RenderedMessage, Responder } from '../port/index.js';
import { messagePayload, modalPayload } from './payload.js';

/** Who counts as an admin: Manage Server (Administrator includes it) or one of the configured roles. */
export function isAdmin(
  permissions: Readonly<PermissionsBitField> | null | undefined,
  member: GuildMember | APIInteractionGuildMember | null | undefined,
  adminRoleIds: readonly string[],
): boolean {
  if (permissions?.has(PermissionFlagsBits.ManageGuild)) return true;
  if (!member || adminRoleIds.length === 0) return false;
  const roles = member.roles instanceof GuildMemberRoleManager ? [...member.roles.cache.keys()] : member.roles;
  return roles.some((id) => adminRoleIds.includes(id));
}

/** The port form of an interaction, or undefined for kinds the bot does not use (autocomplete, selects…). */
export function fromInteraction(i: DjsInteraction, adminRoleIds: readonly string[]): Interaction | undefined {
  if (!i.isRepliable() || !i.channelId) return undefined;
  const base = {
    user: { id: i.user.id, name: i.user.username },
    isAdmin: isAdmin(i.memberPermissions, i.member, adminRoleIds),
    channelId: i.channelId,
    guildId: i.guildId,
  };
  const responder = new InteractionResponder(i);
  if (i.isChatInputCommand()) {
    const subcommand = i.options.getSubcommand(false) ?? undefined;
    const given = subcommand ? (i.options.data[0]?.options ?? []) : i.options.data;
    const options: Record<string, OptionValue> = {};
    const attachments: Record<string, IncomingAttachment> = {};
    for (const o of given) {
      if (o.type === ApplicationCommandOptionType.Attachment) {
        if (o.attachment) attachments[o.name] = incomingAttachment(o.attachment);
      } else if (o.value !== undefined && o.value !== null) options[o.name] = o.value;
    }
    const withFiles = Object.keys(attachments).length > 0 ? { attachments } : {};
    return withResponder(responder, { ...base, kind: 'slash', command: i.commandName, ...(subcommand ? { subcommand } : {}), options, ...withFiles });
  }
  if (i.isMessageContextMenuCommand()) {
    const target = { channelId: i.targetMessage.channelId, messageId: i.targetId };
    const targetAttachments = [...i.targetMessage.attachments.values()].map(incomingAttachment);
    return withResponder(responder, { ...base, kind: 'message-menu', command: i.commandName, target, targetAttachments });
  }
  if (i.isButton()) {
    return withResponder(responder, { ...base, kind: 'button', customId: i.customId, message: { channelId: i.message.channelId, messageId: i.message.id } });
  }
  if (i.isModalSubmit()) {
    const fields: Record<string, string> = {};
    for (const field of i.fields.fields.values()) if (field.type === ComponentType.TextInput) fields[field.customId] = field.value;
    return withResponder(responder, { ...base, kind: 'modal', customId: i.customId, fields });
  }
  return undefined;
}

/** A discord.js attachment as the port describes it. */
function incomingAttachment(a: DjsAttachment): IncomingAttachment {
  return { name: a.name, url: a.url, size: a.size, ...(a.contentType ? { contentType: a.contentType } : {}) };
}

/** A plain reply to some message (the reply handler decides whether it is one of the bot's images). */
export function fromReply(message: Message, adminRoleIds: readonly string[]): MessageReplyInteraction | undefined {
  const repliedTo = message.reference?.messageId;
  if (message.author.bot || !repliedTo || !message.inGuild()) return undefined;
  return withResponder(new MessageReplyResponder(message), {
    kind: 'reply',
    user: { id: message.author.id, name: message.author.username },
    isAdmin: isAdmin(message.member?.permissions, message.member, adminRoleIds),
    channelId: message.channelId,
    guildId: message.guildId,
    content: message.content,
    repliedTo: { channelId: message.reference?.channelId ?? message.channelId, messageId: repliedTo },
  });
}

/** Binds the responder's operations onto the interaction data (state getters stay live). */
function withResponder<T extends Omit<Interaction, keyof Responder>>(responder: Responder, data: T): T & Responder {
  return Object.assign(Object.create(responder) as Responder, data);
}

const ephemeralFlag = (message: { ephemeral?: boolean }) => (message.ephemeral ? { flags: MessageFlags.Ephemeral as const } : {});

class InteractionResponder implements Responder {
  constructor(private readonly i: RepliableInteraction) {}

  get acknowledged(): boolean {
    return this.i.replied || this.i.deferred;
  }

  get deferred(): boolean {
    return this.i.deferred;
  }

  async defer(options: { ephemeral?: boolean } = {}): Promise<void> {
    await this.i.deferReply(ephemeralFlag(options));
  }

  async reply(message: RenderedMessage): Promise<void> {
    await this.i.reply({ ...messagePayload(message), ...ephemeralFlag(message) });
  }

  async editReply(message: RenderedMessage): Promise<void> {
    await this.i.editReply({ ...messagePayload(message), attachments: [] });
  }

  async followUp(message: RenderedMessage): Promise<void> {
    await this.i.followUp({ ...messagePayload(message), ...ephemeralFlag(message) });
  }

  async showModal(modal: Modal): Promise<void> {
    if (!('showModal' in this.i)) throw new Error('this interaction cannot open a dialog');
    await this.i.showModal(modalPayload(modal));
  }
}

/**
 * Answers to a plain message: Discord has no private answers there, so everything is a reply in the channel;
 * "defer" shows the typing indicator.
 */
class MessageReplyResponder implements Responder {
  acknowledged = false;
  deferred = false;
  private answer: Message | undefined;

  constructor(private readonly message: Message) {}

  async defer(): Promise<void> {
    this.acknowledged = this.deferred = true;
    if (this.message.channel.isSendable()) await this.message.channel.sendTyping();
  }

  async reply(message: RenderedMessage): Promise<void> {
    this.acknowledged = true;
    this.answer = await this.message.reply(messagePayload(message));
  }

  async editReply(message: RenderedMessage): Promise<void> {
    if (this.answer) await this.answer.edit({ ...messagePayload(message), attachments: [] });
    else await this.reply(message);
  }

  async followUp(message: RenderedMessage): Promise<void> {
    await this.message.reply(messagePayload(message));
  }

  async showModal(): Promise<void> {
    throw new Error('a plain message cannot open a dialog');
  }
}
