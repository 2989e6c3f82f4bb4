/** Channel messages with the bot token (not the 15-minute interaction token): status updates and late results. */
import type { Client, SendableChannels } from 'discord.js';
import type { MessageRef, MessageSink, RenderedMessage } from '../port/index.js';
import { messagePayload } from './payload.js';

export class DiscordChannelSink implements MessageSink {
  constructor(private readonly client: Client) {}

  async post(channelId: string, message: RenderedMessage): Promise<MessageRef> {
    const sent = await (await this.channel(channelId)).send(messagePayload(message));
    return { channelId, messageId: sent.id };
  }

  async edit(ref: MessageRef, message: RenderedMessage): Promise<void> {
    const channel = await this.channel(ref.channelId);
    // `attachments: []` drops the old files; `files` uploads the new ones.
    await channel.messages.edit(ref.messageId, { ...messagePayload(message), attachments: [] });
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
