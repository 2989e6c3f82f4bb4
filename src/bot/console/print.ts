/** Rendered messages and modals as console text: content, fields, saved attachment paths, numbered buttons. */
import type { Button, Modal, RenderedMessage } from '../port/index.js';

const INDENT = '     ';

/** `<@id>` → `@name` for the users the console knows. */
export type NameOf = (userId: string) => string;

export function formatMessage(label: string, message: RenderedMessage, nameOf: NameOf, savedPaths: readonly string[] = []): string[] {
  const lines = [`${label} ${withNames(message.content, nameOf)}`.split('\n').join(`\n${INDENT}`)];
  let inline: string[] = [];
  const flush = () => {
    if (inline.length) lines.push(INDENT + inline.join(' · '));
    inline = [];
  };
  for (const field of message.fields ?? []) {
    if (field.inline) {
      inline.push(`${field.name}: ${field.value}`);
    } else {
      flush();
      lines.push(`${INDENT}${field.name}: ${field.value}`);
    }
  }
  flush();
  for (const path of savedPaths) lines.push(`${INDENT}file: ${path}`);
  const buttons = numberedButtons(message);
  if (buttons.length) lines.push(`${INDENT}buttons: ${buttons.map((b, i) => `[${i + 1}] ${b.label}${b.disabled ? ' (disabled)' : ''}`).join('  ')}`);
  return lines;
}

/** The one-line form used for status edits (queue position, progress). */
export function formatStatusLine(label: string, message: RenderedMessage, nameOf: NameOf): string {
  return `${label} ${withNames(message.content, nameOf).split('\n')[0]}`;
}

export function formatModal(modal: Modal): string[] {
  const example = modal.fields.map((f) => (f.required ? `${f.id}=…` : `[${f.id}=…]`)).join(' ');
  return [
    `(dialog) ${modal.title} — answer with: submit ${example}`,
    ...modal.fields.map((f) => {
      const hint = [f.placeholder && `e.g. ${f.placeholder}`, f.value !== undefined && `now ${f.value}`].filter(Boolean).join(', ');
      return `${INDENT}${f.id}${f.required ? '*' : ''}: ${f.label}${hint ? ` (${hint})` : ''}`;
    }),
  ];
}

/** Buttons in reading order; the console numbers them from 1. */
export function numberedButtons(message: RenderedMessage): Button[] {
  return (message.rows ?? []).flat();
}

const withNames = (text: string, nameOf: NameOf): string => text.replace(/<@(\w[\w:.-]*)>/g, (_, id: string) => `@${nameOf(id)}`);
