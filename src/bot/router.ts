/**
 * Routes interactions to the command modules (commands/): slash and message context-menu commands by name,
 * buttons and modal submits by the action of their `action:jobId` id, plain replies to the reply handler.
 * Errors are answered here: a UserError becomes its one-line message (privately where the transport allows),
 * anything else is logged in full and shown as a short apology.
 */
import type { RESTPostAPIApplicationCommandsJSONBody } from 'discord.js';
import { isUserError, UserError } from '../engine/errors.js';
import type { BotContext } from './context.js';
import { parseCustomId, type Action } from './custom-id.js';
import type {
  ButtonInteraction,
  Interaction,
  MessageMenuInteraction,
  MessageReplyInteraction,
  ModalSubmitInteraction,
  SlashInteraction,
} from './port/index.js';

/** A command definition: discord.js SlashCommandBuilder or ContextMenuCommandBuilder data. */
export interface CommandData {
  readonly name: string;
  toJSON(): RESTPostAPIApplicationCommandsJSONBody;
}

export interface SlashCommand {
  data: CommandData;
  execute(ix: SlashInteraction, ctx: BotContext): Promise<void>;
}

export interface MessageMenuCommand {
  data: CommandData;
  execute(ix: MessageMenuInteraction, ctx: BotContext): Promise<void>;
}

export interface ButtonHandler {
  actions: readonly Action[];
  execute(ix: ButtonInteraction, target: { action: Action; jobId: number }, ctx: BotContext): Promise<void>;
}

export interface ModalHandler {
  action: Action;
  execute(ix: ModalSubmitInteraction, jobId: number, ctx: BotContext): Promise<void>;
}

export interface ReplyHandler {
  execute(ix: MessageReplyInteraction, ctx: BotContext): Promise<void>;
}

/** What one file of commands/ exports (as `default`). */
export interface BotModule {
  slash?: SlashCommand;
  menu?: MessageMenuCommand;
  buttons?: ButtonHandler;
  modal?: ModalHandler;
  reply?: ReplyHandler;
}

export class Router {
  private readonly slash = new Map<string, SlashCommand>();
  private readonly menus = new Map<string, MessageMenuCommand>();
  private readonly buttons = new Map<Action, ButtonHandler>();
  private readonly modals = new Map<Action, ModalHandler>();
  private readonly replies: ReplyHandler[] = [];

  constructor(
    private readonly modules: readonly BotModule[],
    private readonly ctx: BotContext,
  ) {
    for (const m of modules) {
      if (m.slash) addUnique(this.slash, m.slash.data.name, m.slash);
      if (m.menu) addUnique(this.menus, m.menu.data.name, m.menu);
      for (const action of m.buttons?.actions ?? []) addUnique(this.buttons, action, m.buttons!);
      if (m.modal) addUnique(this.modals, m.modal.action, m.modal);
      if (m.reply) this.replies.push(m.reply);
    }
  }

  /** The definitions to register with Discord (and to parse console input with). */
  definitions(): RESTPostAPIApplicationCommandsJSONBody[] {
    return commandDefinitions(this.modules);
  }

  async handle(ix: Interaction): Promise<void> {
    try {
      await this.dispatch(ix);
    } catch (e) {
      await this.answerError(ix, e);
    }
  }

  private async dispatch(ix: Interaction): Promise<void> {
    switch (ix.kind) {
      case 'slash':
        return this.find(this.slash, ix.command, `/${ix.command}`).execute(ix, this.ctx);
      case 'message-menu':
        return this.find(this.menus, ix.command, `"${ix.command}"`).execute(ix, this.ctx);
      case 'button': {
        const target = parseCustomId(ix.customId);
        if (!target) throw new UserError('not_found', 'This button is no longer supported.');
        return this.find(this.buttons, target.action, 'This button').execute(ix, target, this.ctx);
      }
      case 'modal': {
        const target = parseCustomId(ix.customId);
        if (!target) throw new UserError('not_found', 'This form is no longer supported.');
        return this.find(this.modals, target.action, 'This form').execute(ix, target.jobId, this.ctx);
      }
      case 'reply':
        // Plain messages are not commands: without the operator's opt-in, or without a handler, they are ignored.
        if (!this.ctx.messageContent) return;
        for (const handler of this.replies) await handler.execute(ix, this.ctx);
        return;
    }
  }

  private find<K, V>(map: Map<K, V>, key: K, what: string): V {
    const handler = map.get(key);
    if (!handler) throw new UserError('not_found', `${what} is not supported by this version of the bot.`);
    return handler;
  }

  private async answerError(ix: Interaction, e: unknown): Promise<void> {
    const expected = isUserError(e) && e.code !== 'internal';
    if (!expected) this.ctx.log.error(`${describe(ix)} failed`, e);
    const content = expected ? `⚠️ ${e.message}` : "⚠️ Something went wrong on the bot's side; it is logged. Please try again.";
    // A plain message has no private answers: its errors are replies in the channel.
    const message = { content, ephemeral: ix.kind !== 'reply' };
    try {
      if (ix.deferred) await ix.editReply(message);
      else if (ix.acknowledged) await ix.followUp(message);
      else await ix.reply(message);
    } catch (answerError) {
      this.ctx.log.warn(`could not answer ${describe(ix)} with its error`, answerError);
    }
  }
}

/** The command definitions of some modules, without building a router (registration needs no bot). */
export function commandDefinitions(modules: readonly BotModule[]): RESTPostAPIApplicationCommandsJSONBody[] {
  return modules.flatMap((m) => [m.slash, m.menu]).flatMap((c) => (c ? [c.data.toJSON()] : []));
}

function addUnique<K, V>(map: Map<K, V>, key: K, value: V): void {
  if (map.has(key)) throw new Error(`two command modules handle ${String(key)}`);
  map.set(key, value);
}

function describe(ix: Interaction): string {
  switch (ix.kind) {
    case 'slash':
      return `/${ix.command}${ix.subcommand ? ` ${ix.subcommand}` : ''} by ${ix.user.id}`;
    case 'message-menu':
      return `"${ix.command}" by ${ix.user.id}`;
    case 'button':
    case 'modal':
      return `${ix.kind} ${ix.customId} by ${ix.user.id}`;
    case 'reply':
      return `reply by ${ix.user.id}`;
  }
}
