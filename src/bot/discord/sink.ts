/** Channel messages with the bot token (not the 15-minute interaction token): status updates and late results. */
import { DiscordAPIError, RESTJSONErrorCodes, type Client, type SendableChannels } from 'discord.js';
import { MessageGone, type EditBudget, type MessageRef, type MessageSink, type RenderedMessage } from '../port/index.js';
import { messagePayload } from './payload.js';

/** Discord allows about 30 message edits a minute per channel; the bot stays just under. */
export const DISCORD_EDIT_BUDGET: EditBudget = { edits: 28, windowMs: 60_000 };

/** Errors that mean the message (or its channel) no longer exists. */
const GONE_CODES = new Set<number | string>([RESTJSONErrorCodes.UnknownMessage, RESTJSONErrorCodes.UnknownChannel]);

export class DiscordChannelSink implements MessageSink {
  readonly editBudget = DISCORD_EDIT_BUDGET;

  constructor(private readonly client: Client) {}

  async post(channelId: string, message: RenderedMessage): Promise<MessageRef> {
    const sent = await (await this.channel(channelId)).send(messagePayload(message));
    return { channelId, messageId: sent.id };
  }

  async edit(ref: MessageRef, message: RenderedMessage): Promise<void> {
    try {
      const channel = await this.channel(ref.channelId);
      // `attachments: []` drops the old files; `files` uploads the new ones.
      await channel.messages.edit(ref.messageId, { ...messagePayload(message), attachments: [] });
    } catch (e) {
      if (e instanceof DiscordAPIError && GONE_CODES.has(e.code)) throw new MessageGone(ref);
      throw e;
    }
  }

  async delete(ref: MessageRef): Promise<void> {
    await (await this.channel(ref.channelId)).messages.delete(ref.messageId);
  }

  private async channel(id: string): Promise<SendableChannels> {
    const channel = await this.client.channels.fetch(id);
    if (!channel?.isSendable()) throw new Error(`channel ${id} is not a channel I can post in`);
    return channel;
  }
}
