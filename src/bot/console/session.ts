/**
 * The offline console driver: the whole bot (same commands, queue, store and rendering as on Discord) driven by
 * text lines. Grammar (one command per line; `#` starts a comment):
 *
 *   /imagine prompt:"a red fox" seed:42 steps:4     a slash command, typed as in Discord
 *   /queue show                                     (subcommands follow the command name)
 *   click <number|label> [on <message>]             press a button of the latest message with buttons
 *                                                   (waits for running jobs first, unless `on m3` names a message)
 *   submit field=value …                            answer the open dialog (modal)
 *   menu "Edit with prompt" [on <message>]          a message context-menu command (default: the latest image)
 *   reply [on <message>] cat→dog                    a plain reply to a bot image (message-content edits)
 *   as <name> <line>                                run a line as another (non-admin) user
 *   wait                                            wait until no job runs or waits
 *   help                                            this text
 *
 * Messages are numbered m1, m2, …; `[m3]` prints a post or a finished message, `[m3]*` an edit, "(only you)" a
 * private answer. Images are saved to the output folder. At the end of input the driver waits for the queue.
 */
import { createBotApp, type AppSettings, type BotApp } from '../app.js';
import type { ImageBackend } from '../backend.js';
import { isUserError, UserError } from '../../engine/errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { Interaction, Modal, RenderedMessage, UserRef } from '../port/index.js';
import { ConsoleChannel } from './channel.js';
import { numberedButtons } from './print.js';
import { ConsoleResponder } from './responder.js';
import { parseSlash } from './slash.js';
import { splitPair, tokenize } from './tokenize.js';

export interface ConsoleOptions {
  backend: ImageBackend;
  settings: AppSettings;
  /** Where images are saved. */
  outDir: string;
  write(line: string): void;
  log?: Logger;
  /** The console user's name (an admin). */
  userName?: string;
}

const GUILD = 'console';
const CHANNEL = 'console';

interface ConsoleUser extends UserRef {
  isAdmin: boolean;
}

export const CONSOLE_HELP = `Commands:
  /imagine prompt:"a red fox" seed:42 steps:4 width:256 height:256
  /edit edit:"fox→cat" [image:m3|#2] [cross:0.6] [self:0.4] [blend:"fox, cat"] [cfg:7.5]
  /queue show | /queue cancel [job:3] | /queue pause | /queue resume
  click <number|label> [on m3]   press a button (of the latest message with buttons)
  submit edit="fox→cat" [cross=0.6] [self=0.4] [blend="fox, cat"]   answer the open dialog
  menu "Edit with prompt" [on m3]   message context menu (default: the latest image)
  reply [on m3] fox→cat          plain reply to an image
  as <name> <line>               run a line as another user
  wait                           wait for the queue
  help`;

export class ConsoleSession {
  readonly app: BotApp;
  private readonly channel: ConsoleChannel;
  private readonly me: ConsoleUser;
  private readonly names = new Map<string, string>();
  private openModal: Modal | undefined;

  constructor(private readonly o: ConsoleOptions) {
    this.me = { id: 'console', name: o.userName ?? 'you', isAdmin: true };
    this.names.set(this.me.id, this.me.name);
    this.channel = new ConsoleChannel(o.outDir, o.write, this.nameOf, o.settings.dbPath);
    // The console has no edit limits: every progress report (and its live preview) is shown as it comes.
    const settings = { ...o.settings, progressIntervalMs: 0 };
    this.app = createBotApp({ settings, backend: o.backend, sink: this.channel, log: o.log ?? silentLogger, messageContent: true });
  }

  /** Handles one input line; mistakes are printed as `error: …`, never thrown. */
  async handle(line: string): Promise<void> {
    const text = line.trim();
    if (text === '' || text.startsWith('#')) return;
    this.o.write(`> ${text}`);
    try {
      await this.dispatch(text, this.me);
    } catch (e) {
      if (!isUserError(e)) throw e;
      this.o.write(`error: ${e.message}`);
    }
  }

  /**
   * Resumes the jobs that were queued or running when the last process on this database stopped (killed
   * included), as the Discord adapter does once logged in; their status messages are edited where they are.
   */
  async start(): Promise<void> {
    const { resumed, failed } = await this.app.jobs.resumeUnfinished();
    if (resumed + failed === 0) return;
    const jobs = (n: number) => `${n} job${n === 1 ? '' : 's'}`;
    this.o.write(`(resumed ${jobs(resumed)} from before the restart${failed > 0 ? `; ${jobs(failed)} could not be resumed` : ''})`);
  }

  /** End of input: waits for running (and, unless paused, waiting) jobs, then closes the store. */
  async finish(): Promise<void> {
    await this.app.jobs.idle();
    const waiting = this.app.jobs.queue.size;
    if (waiting > 0) {
      this.o.write(`(${waiting} job${waiting === 1 ? '' : 's'} stay queued: the queue is paused; they resume when \`reprompt local\` or the bot starts again with this database)`);
    }
    await this.app.close();
    this.channel.close();
  }

  private readonly nameOf = (userId: string): string => this.names.get(userId) ?? userId;

  private async dispatch(text: string, user: ConsoleUser): Promise<void> {
    const as = /^as\s+(\S+)\s+(.+)$/s.exec(text);
    if (as) return this.dispatch(as[2], this.userNamed(as[1]));
    if (text.startsWith('/')) {
      const parsed = parseSlash(text, this.app.router.definitions());
      return this.app.router.handle(this.interaction({ kind: 'slash', ...parsed }, user));
    }
    const [word] = text.split(/\s/, 1);
    switch (word) {
      case 'click':
        return this.click(text, user);
      case 'submit':
        return this.submit(text, user);
      case 'menu':
        return this.menu(text, user);
      case 'reply':
        return this.reply(text, user);
      case 'wait':
        return this.app.jobs.idle();
      case 'help':
        return CONSOLE_HELP.split('\n').forEach((l) => this.o.write(l));
      default:
        throw consoleError(`"${word}" is not a command. Type help for the list.`);
    }
  }

  private async click(text: string, user: ConsoleUser): Promise<void> {
    const [, ...words] = tokenize(text);
    const on = words.indexOf('on');
    const which = (on >= 0 ? words.slice(0, on) : words).join(' ');
    if (!which) throw consoleError('click what? Give a button number or label.');
    const target = await this.target(on >= 0 ? words[on + 1] : undefined, (m) => numberedButtons(m).length > 0, 'a message with buttons');
    const buttons = numberedButtons(target.message);
    const button = /^\d+$/.test(which) ? buttons[Number(which) - 1] : findByLabel(buttons, which);
    if (!button) throw consoleError(`[${target.id}] has no button "${which}" (buttons: ${buttons.map((b, i) => `[${i + 1}] ${b.label}`).join('  ')}).`);
    if (button.disabled) throw consoleError(`The button "${button.label}" is disabled.`);
    await this.app.router.handle(this.interaction({ kind: 'button', customId: button.customId, message: { channelId: CHANNEL, messageId: target.id } }, user));
  }

  private async submit(text: string, user: ConsoleUser): Promise<void> {
    const modal = this.openModal;
    if (!modal) throw consoleError('No dialog is open: press a button (or use a menu) that opens one.');
    const fields: Record<string, string> = Object.fromEntries(modal.fields.map((f) => [f.id, '']));
    for (const token of tokenize(text).slice(1)) {
      const pair = splitPair(token, '=');
      if (!pair || !(pair[0] in fields)) throw consoleError(`"${token}" is not a field of this dialog (fields: ${modal.fields.map((f) => f.id).join(', ')}).`);
      fields[pair[0]] = pair[1];
    }
    const missing = modal.fields.filter((f) => f.required && fields[f.id].trim() === '');
    if (missing.length) throw consoleError(`The dialog needs ${missing.map((f) => `${f.id}=…`).join(' ')}.`);
    this.openModal = undefined;
    await this.app.router.handle(this.interaction({ kind: 'modal', customId: modal.customId, fields }, user));
  }

  private async menu(text: string, user: ConsoleUser): Promise<void> {
    const [, command, ...rest] = tokenize(text);
    if (!command) throw consoleError('menu needs a command name, e.g. menu "Edit with prompt".');
    const target = await this.target(rest[0] === 'on' ? rest[1] : undefined, hasImage, 'an image');
    await this.app.router.handle(this.interaction({ kind: 'message-menu', command, target: { channelId: CHANNEL, messageId: target.id } }, user));
  }

  private async reply(text: string, user: ConsoleUser): Promise<void> {
    const parsed = /^reply(?:\s+on\s+(\S+))?\s+(.+)$/s.exec(text);
    if (!parsed) throw consoleError('reply needs text, e.g. reply fox→cat');
    const target = await this.target(parsed[1], hasImage, 'an image');
    await this.app.router.handle(this.interaction({ kind: 'reply', content: parsed[2], repliedTo: { channelId: CHANNEL, messageId: target.id } }, user));
  }

  /** A named message, or (after waiting for the queue, so results are in) the latest one that matches. */
  private async target(named: string | undefined, matches: (m: RenderedMessage) => boolean, what: string): Promise<{ id: string; message: RenderedMessage }> {
    if (named) {
      const message = this.channel.get(named);
      if (!message) throw consoleError(`There is no message ${named}.`);
      return { id: named, message };
    }
    await this.app.jobs.idle();
    const latest = this.channel.latest(matches);
    if (!latest) throw consoleError(`There is no message with ${what} yet.`);
    return latest;
  }

  private userNamed(name: string): ConsoleUser {
    if (name === this.me.name) return this.me;
    const user = { id: `console:${name}`, name, isAdmin: false };
    this.names.set(user.id, name);
    return user;
  }

  private interaction(shape: DistributiveOmit<Interaction, keyof ConsoleResponder | 'user' | 'isAdmin' | 'channelId' | 'guildId'>, user: ConsoleUser): Interaction {
    const responder = new ConsoleResponder(this.channel, CHANNEL, this.o.write, this.nameOf, (modal) => (this.openModal = modal));
    const context = { user: { id: user.id, name: user.name }, isAdmin: user.isAdmin, channelId: CHANNEL, guildId: GUILD };
    return Object.assign(responder, context, shape) as Interaction;
  }
}

/** Reads lines until the input ends, then waits for the queue and closes. */
export async function runConsole(lines: AsyncIterable<string>, options: ConsoleOptions): Promise<void> {
  const session = new ConsoleSession(options);
  await session.start();
  for await (const line of lines) await session.handle(line);
  await session.finish();
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const hasImage = (m: RenderedMessage): boolean => (m.attachments?.length ?? 0) > 0;

/** An exact label (ignoring case and a trailing …), else the one label that starts with the text. */
function findByLabel<B extends { label: string }>(buttons: readonly B[], text: string): B | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/…$/, '').trim();
  const wanted = norm(text);
  const exact = buttons.find((b) => norm(b.label) === wanted);
  if (exact) return exact;
  const prefixed = buttons.filter((b) => norm(b.label).startsWith(wanted));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

const consoleError = (message: string): UserError => new UserError('bad_input', message);
