/**
 * Answers to a console interaction, with Discord's rules (one first answer; a modal only as the first answer):
 * private (ephemeral) answers are printed as "(only you)", public ones become channel messages, a modal is
 * remembered so that `submit` can answer it.
 */
import type { Modal, RenderedMessage, Responder } from '../port/index.js';
import type { ConsoleChannel } from './channel.js';
import { formatMessage, formatModal, type NameOf } from './print.js';

export class ConsoleResponder implements Responder {
  acknowledged = false;
  deferred = false;
  private ephemeral = false;
  private publicReply: string | undefined;

  constructor(
    private readonly channel: ConsoleChannel,
    private readonly channelId: string,
    private readonly write: (line: string) => void,
    private readonly nameOf: NameOf,
    private readonly onModal: (modal: Modal) => void,
  ) {}

  async defer(options: { ephemeral?: boolean } = {}): Promise<void> {
    this.first('defer');
    this.deferred = true;
    this.ephemeral = !!options.ephemeral;
  }

  async reply(message: RenderedMessage): Promise<void> {
    this.first('reply');
    this.ephemeral = !!message.ephemeral;
    await this.send(message);
  }

  async editReply(message: RenderedMessage): Promise<void> {
    if (!this.acknowledged) throw new Error('editReply: the interaction has not been answered yet');
    // Like Discord, the ephemeral state of the first answer stays.
    if (this.publicReply) await this.channel.edit({ channelId: this.channelId, messageId: this.publicReply }, message);
    else await this.send(message);
  }

  async followUp(message: RenderedMessage): Promise<void> {
    if (!this.acknowledged) throw new Error('followUp: the interaction has not been answered yet');
    if (message.ephemeral) this.print(message);
    else await this.channel.post(this.channelId, message);
  }

  async showModal(modal: Modal): Promise<void> {
    this.first('showModal');
    formatModal(modal).forEach((line) => this.write(line));
    this.onModal(modal);
  }

  private async send(message: RenderedMessage): Promise<void> {
    if (this.ephemeral) this.print(message);
    else this.publicReply = (await this.channel.post(this.channelId, message)).messageId;
  }

  private print(message: RenderedMessage): void {
    formatMessage('(only you)', message, this.nameOf).forEach((line) => this.write(line));
  }

  private first(op: string): void {
    if (this.acknowledged) throw new Error(`${op}: the interaction has already been answered`);
    this.acknowledged = true;
  }
}
