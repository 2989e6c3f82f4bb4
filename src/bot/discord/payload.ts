/**
 * Port messages and modals → discord.js payloads. Discord's size limits are applied here (content 2000, field
 * name 256 / value 1024, 25 fields), and mentions are limited to the users named in the content, so a prompt can
 * never ping @everyone or a role.
 */
import {
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  EmbedBuilder,
  LabelBuilder,
  ModalBuilder,
  TextInputBuilder,
  TextInputStyle,
  type BaseMessageOptions,
} from 'discord.js';
import type { ButtonStyle as PortButtonStyle, Modal, RenderedMessage } from '../port/index.js';

const STYLES: Record<PortButtonStyle, ButtonStyle> = {
  primary: ButtonStyle.Primary,
  secondary: ButtonStyle.Secondary,
  success: ButtonStyle.Success,
  danger: ButtonStyle.Danger,
};

/** The bot's embed colour. */
const EMBED_COLOR = 0x5865f2;

/** Everything but the ephemeral flag, which each call site sets in its own way. */
export function messagePayload(message: RenderedMessage): Required<Pick<BaseMessageOptions, 'content' | 'embeds' | 'files' | 'components' | 'allowedMentions'>> {
  const fields = (message.fields ?? []).slice(0, 25).map((f) => ({ name: cut(f.name, 256), value: cut(f.value || '—', 1024), inline: !!f.inline }));
  return {
    content: cut(message.content, 2000),
    embeds: fields.length ? [new EmbedBuilder().setColor(EMBED_COLOR).addFields(fields)] : [],
    files: (message.attachments ?? []).map((a) => new AttachmentBuilder(Buffer.from(a.data), { name: a.name, ...(a.description ? { description: cut(a.description, 1024) } : {}) })),
    components: (message.rows ?? []).slice(0, 5).map((row) =>
      new ActionRowBuilder<ButtonBuilder>().addComponents(
        row.slice(0, 5).map((b) => new ButtonBuilder().setCustomId(b.customId).setLabel(cut(b.label, 80)).setStyle(STYLES[b.style]).setDisabled(!!b.disabled)),
      ),
    ),
    allowedMentions: { parse: [], users: mentionedUsers(message.content) },
  };
}

export function modalPayload(modal: Modal): ModalBuilder {
  return new ModalBuilder()
    .setCustomId(modal.customId)
    .setTitle(cut(modal.title, 45))
    .addLabelComponents(
      modal.fields.slice(0, 5).map((f) => {
        const maxLength = Math.min(f.maxLength ?? 4000, 4000);
        const input = new TextInputBuilder()
          .setCustomId(f.id)
          .setStyle(f.style === 'paragraph' ? TextInputStyle.Paragraph : TextInputStyle.Short)
          .setRequired(f.required)
          .setMaxLength(maxLength);
        if (f.placeholder) input.setPlaceholder(cut(f.placeholder, 100));
        // Discord refuses the whole dialog when a pre-filled value is longer than the field allows.
        if (f.value !== undefined) input.setValue(cut(f.value, maxLength));
        return new LabelBuilder().setLabel(cut(f.label, 45)).setTextInputComponent(input);
      }),
    );
}

function mentionedUsers(content: string): string[] {
  return [...new Set([...content.matchAll(/<@!?(\d{17,20})>/g)].map((m) => m[1]))].slice(0, 100);
}

const cut = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
