/**
 * Parses a slash command typed on the console (`/imagine prompt:"a red fox" seed:42 steps:4`) against the same
 * definitions that are registered with Discord, and checks what the Discord client checks before sending:
 * known options, required ones present, types, choices, min/max values and lengths.
 */
import { ApplicationCommandOptionType, ApplicationCommandType, type APIApplicationCommandOption, type RESTPostAPIApplicationCommandsJSONBody } from 'discord.js';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorMessage, UserError } from '../../engine/errors.js';
import type { IncomingAttachment, OptionValue } from '../port/index.js';
import { splitPair, tokenize } from './tokenize.js';

export interface ParsedSlash {
  command: string;
  subcommand?: string;
  options: Record<string, OptionValue>;
  /** Attachment options, typed `name:@path/to/file`: the file is read here. */
  attachments?: Record<string, IncomingAttachment>;
}

export function parseSlash(line: string, definitions: readonly RESTPostAPIApplicationCommandsJSONBody[]): ParsedSlash {
  const [head, ...rest] = tokenize(line);
  const name = head?.replace(/^\//, '') ?? '';
  const slashCommands = definitions.filter((d) => (d.type ?? ApplicationCommandType.ChatInput) === ApplicationCommandType.ChatInput);
  const definition = slashCommands.find((d) => d.name === name);
  if (!definition) throw bad(`Unknown command /${name}. Commands: ${slashCommands.map((d) => `/${d.name}`).join(', ')}.`);
  let options = ('options' in definition ? definition.options : undefined) ?? [];
  const subcommands = options.filter((o) => o.type === ApplicationCommandOptionType.Subcommand);
  let subcommand: string | undefined;
  if (subcommands.length > 0) {
    subcommand = rest.shift();
    const chosen = subcommands.find((s) => s.name === subcommand);
    if (!chosen) throw bad(`/${name} needs one of: ${subcommands.map((s) => s.name).join(', ')}.`);
    options = ('options' in chosen ? chosen.options : undefined) ?? [];
  }
  const usage = `/${name}${subcommand ? ` ${subcommand}` : ''}`;
  const values: Record<string, OptionValue> = {};
  const files: Record<string, IncomingAttachment> = {};
  for (const token of rest) {
    const pair = splitPair(token, ':');
    if (!pair) throw bad(`"${token}" is not an option: write name:value (options of ${usage}: ${names(options)}).`);
    const [key, raw] = pair;
    const option = options.find((o) => o.name === key);
    if (!option) throw bad(`${usage} has no option "${key}" (options: ${names(options)}).`);
    if (key in values || key in files) throw bad(`Option ${key} is given twice.`);
    if (option.type === ApplicationCommandOptionType.Attachment) files[key] = attachedFile(option.name, raw);
    else values[key] = typed(option, raw);
  }
  const missing = options.filter((o) => 'required' in o && o.required && !(o.name in values) && !(o.name in files));
  if (missing.length > 0) throw bad(`${usage} needs ${missing.map((o) => `${o.name}:…`).join(' ')}.`);
  return { command: name, ...(subcommand ? { subcommand } : {}), options: values, ...(Object.keys(files).length > 0 ? { attachments: files } : {}) };
}

/** `@path/to/file` → the file as an attachment whose bytes are at hand (no download). */
function attachedFile(name: string, raw: string): IncomingAttachment {
  if (!raw.startsWith('@') || raw.length === 1) throw bad(`${name} takes a file: write ${name}:@path/to/picture.png.`);
  const path = raw.slice(1);
  let data: Uint8Array;
  try {
    data = readFileSync(path);
  } catch (e) {
    throw bad(`Cannot read ${path} (${errorMessage(e)}).`);
  }
  return { name: basename(path), url: pathToFileURL(path).href, size: data.byteLength, data };
}

function typed(option: APIApplicationCommandOption, raw: string): OptionValue {
  switch (option.type) {
    case ApplicationCommandOptionType.String: {
      if (option.choices?.length && !option.choices.some((c) => c.value === raw)) {
        throw bad(`${option.name} must be one of ${option.choices.map((c) => c.value).join(', ')}.`);
      }
      if (option.min_length !== undefined && raw.length < option.min_length) throw bad(`${option.name} needs at least ${option.min_length} characters.`);
      if (option.max_length !== undefined && raw.length > option.max_length) throw bad(`${option.name} allows at most ${option.max_length} characters.`);
      return raw;
    }
    case ApplicationCommandOptionType.Integer:
    case ApplicationCommandOptionType.Number: {
      const n = Number(raw);
      const integer = option.type === ApplicationCommandOptionType.Integer;
      if (raw.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
        throw bad(`${option.name} must be ${integer ? 'a whole number' : 'a number'}.`);
      }
      if (option.min_value !== undefined && n < option.min_value) throw bad(`${option.name} must be at least ${option.min_value}.`);
      if (option.max_value !== undefined && n > option.max_value) throw bad(`${option.name} must be at most ${option.max_value}.`);
      return n;
    }
    case ApplicationCommandOptionType.Boolean:
      if (raw !== 'true' && raw !== 'false') throw bad(`${option.name} must be true or false.`);
      return raw === 'true';
    default:
      throw bad(`Option ${option.name} cannot be typed on the console.`);
  }
}

const names = (options: readonly APIApplicationCommandOption[]): string => options.map((o) => o.name).join(', ') || 'none';
const bad = (message: string): UserError => new UserError('bad_input', message);
