import { describe, expect, test } from '@jest/globals';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ComponentType,
  DiscordAPIError,
  MessageFlags,
  PermissionsBitField,
  Client,
  type Interaction as DjsInteraction,
} from 'discord.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { modules } from '../commands/index.js';
import { editModal } from '../commands/edit-with-prompt.js';
import { fromInteraction, fromReply, isAdmin } from '../src/bot/discord/interactions.js';
import { messagePayload, modalPayload } from '../src/bot/discord/payload.js';
import { DiscordChannelSink } from '../src/bot/discord/sink.js';
import { loginFailure } from '../src/bot/discord/client.js';
import { MessageGone } from '../src/bot/port/index.js';
import { registerCommands } from '../src/bot/register.js';
import { commandDefinitions } from '../src/bot/router.js';
import type { JobRecord } from '../src/bot/job.js';

const ALICE = '100000000000000001';

describe('discord.js payloads', () => {
  test('a rendered message becomes content, one embed, files and button rows; only its mentioned users can be pinged', () => {
    const payload = messagePayload({
      content: `✅ <@${ALICE}> · job #3 @everyone ${'x'.repeat(2100)}`,
      fields: [
        { name: 'Prompt', value: 'p'.repeat(1500) },
        { name: 'Seed', value: '42', inline: true },
      ],
      attachments: [{ name: 'job-3.png', data: new Uint8Array([1, 2, 3]), description: 'a fox' }],
      rows: [[{ label: 'CFG 4 (lower)', customId: 'cfg-lower:3', style: 'secondary' }, { label: 'Delete', customId: 'delete:3', style: 'danger', disabled: true }]],
    });
    expect(payload.content.length).toBe(2000);
    expect(payload.allowedMentions).toEqual({ parse: [], users: [ALICE] });
    const [embed] = payload.embeds.map((e) => ('toJSON' in e ? e.toJSON() : e));
    expect(embed.fields![0].value.length).toBe(1024);
    expect(embed.fields![1]).toEqual({ name: 'Seed', value: '42', inline: true });
    const file = payload.files[0] as { name?: string; description?: string };
    expect([file.name, file.description]).toEqual(['job-3.png', 'a fox']);
    const [row] = payload.components.map((c) => ('toJSON' in c ? c.toJSON() : c)) as { components: { custom_id: string; style: number; disabled?: boolean }[] }[];
    expect(row.components.map((b) => [b.custom_id, b.style, b.disabled ?? false])).toEqual([
      ['cfg-lower:3', 2, false],
      ['delete:3', 4, true],
    ]);
  });

  test('the edit dialog becomes a modal of labelled text inputs within Discord limits', () => {
    const job = { id: 12, request: { kind: 'imagine', params: {} } } as unknown as JobRecord;
    const json = modalPayload(editModal(job)).toJSON();
    expect(json.custom_id).toBe('edit-modal:12');
    expect(json.title).toBe('Edit image #12');
    expect(json.components).toHaveLength(4);
    const [first] = json.components as { type: number; label: string; component: { type: number; custom_id: string; required: boolean } }[];
    expect(first.type).toBe(ComponentType.Label);
    expect(first.component).toMatchObject({ type: ComponentType.TextInput, custom_id: 'edit', required: true });
  });
});

/** A plain-object stand-in for a discord.js interaction (only what the adapter reads). */
function fakeInteraction(kind: 'chat' | 'button' | 'modal' | 'menu', extra: Record<string, unknown>) {
  const calls: [string, unknown][] = [];
  const record = (name: string) => async (arg?: unknown) => {
    calls.push([name, arg]);
    if (name === 'deferReply') fake.deferred = true;
    if (name === 'reply') fake.replied = true;
  };
  const fake: Record<string, unknown> = {
    user: { id: ALICE, username: 'alice' },
    channelId: '300000000000000000',
    guildId: '200000000000000000',
    memberPermissions: new PermissionsBitField(),
    member: { roles: ['400000000000000000'] },
    replied: false,
    deferred: false,
    isRepliable: () => true,
    isChatInputCommand: () => kind === 'chat',
    isMessageContextMenuCommand: () => kind === 'menu',
    isButton: () => kind === 'button',
    isModalSubmit: () => kind === 'modal',
    deferReply: record('deferReply'),
    reply: record('reply'),
    editReply: record('editReply'),
    followUp: record('followUp'),
    showModal: record('showModal'),
    ...extra,
  };
  return { interaction: fake as unknown as DjsInteraction, calls };
}

describe('discord.js interactions → port interactions', () => {
  test('a slash command with a subcommand gets typed options; defer maps to an ephemeral deferReply', async () => {
    const { interaction, calls } = fakeInteraction('chat', {
      commandName: 'queue',
      options: {
        getSubcommand: () => 'cancel',
        data: [{ name: 'cancel', type: ApplicationCommandOptionType.Subcommand, options: [{ name: 'job', type: ApplicationCommandOptionType.Integer, value: 3 }] }],
      },
    });
    const ix = fromInteraction(interaction, [])!;
    expect(ix).toMatchObject({ kind: 'slash', command: 'queue', subcommand: 'cancel', options: { job: 3 }, user: { id: ALICE, name: 'alice' }, isAdmin: false });
    expect(ix.acknowledged).toBe(false);
    await ix.defer({ ephemeral: true });
    expect(calls).toEqual([['deferReply', { flags: MessageFlags.Ephemeral }]]);
    expect(ix.deferred).toBe(true);
    await ix.editReply({ content: 'Queued', ephemeral: true });
    expect(calls[1][0]).toBe('editReply');
    expect(calls[1][1]).toMatchObject({ content: 'Queued', attachments: [] });
  });

  test('an attachment option becomes an attachment (name, Discord’s URL, type, size), not an option value', () => {
    const file = { id: '9', name: 'me.png', url: 'https://cdn.discordapp.com/attachments/1/9/me.png', size: 2048, contentType: 'image/png' };
    const { interaction } = fakeInteraction('chat', {
      commandName: 'edit',
      options: {
        getSubcommand: () => null,
        data: [
          { name: 'edit', type: ApplicationCommandOptionType.String, value: 'cat→dog' },
          { name: 'photo', type: ApplicationCommandOptionType.Attachment, value: '9', attachment: file },
        ],
      },
    });
    const ix = fromInteraction(interaction, [])!;
    expect(ix).toMatchObject({ kind: 'slash', command: 'edit', options: { edit: 'cat→dog' } });
    expect(ix.kind === 'slash' && ix.options.photo).toBeUndefined();
    expect(ix.kind === 'slash' && ix.attachments).toEqual({ photo: { name: 'me.png', url: file.url, size: 2048, contentType: 'image/png' } });
  });

  test('buttons, modal submits and message context menus keep their ids and targets', () => {
    const button = fromInteraction(fakeInteraction('button', { customId: 'reroll:4', message: { id: '500000000000000000', channelId: '300000000000000000' } }).interaction, [])!;
    expect(button).toMatchObject({ kind: 'button', customId: 'reroll:4', message: { channelId: '300000000000000000', messageId: '500000000000000000' } });
    const modal = fromInteraction(
      fakeInteraction('modal', {
        customId: 'edit-modal:4',
        fields: { fields: new Map([['edit', { type: ComponentType.TextInput, customId: 'edit', value: 'cat→dog' }], ['cross', { type: ComponentType.TextInput, customId: 'cross', value: '' }]]) },
      }).interaction,
      [],
    )!;
    expect(modal).toMatchObject({ kind: 'modal', customId: 'edit-modal:4', fields: { edit: 'cat→dog', cross: '' } });
    const file = { name: 'house.jpg', url: 'https://cdn.discordapp.com/attachments/1/2/house.jpg', size: 1234, contentType: 'image/jpeg' };
    const targetMessage = { channelId: '300000000000000000', attachments: new Map([['2', file]]) };
    const menu = fromInteraction(fakeInteraction('menu', { commandName: 'Edit with prompt', targetId: '600000000000000000', targetMessage }).interaction, [])!;
    expect(menu).toMatchObject({ kind: 'message-menu', command: 'Edit with prompt', target: { channelId: '300000000000000000', messageId: '600000000000000000' } });
    expect(menu.kind === 'message-menu' && menu.targetAttachments).toEqual([file]);
  });

  test('a plain reply to a message (message-content intent); bots and non-replies are ignored', async () => {
    const sent: string[] = [];
    const message = (over: Record<string, unknown>) =>
      ({
        author: { id: ALICE, username: 'alice', bot: false },
        content: 'fox→cat',
        channelId: '300000000000000000',
        guildId: '200000000000000000',
        member: null,
        reference: { messageId: '700000000000000000', channelId: '300000000000000000' },
        inGuild: () => true,
        channel: { isSendable: () => true, sendTyping: async () => void sent.push('typing') },
        reply: async (payload: { content: string }) => {
          sent.push(payload.content);
          return { edit: async (p: { content: string }) => void sent.push(`edit ${p.content}`) };
        },
        ...over,
      }) as never;
    const ix = fromReply(message({}), [])!;
    expect(ix).toMatchObject({ kind: 'reply', content: 'fox→cat', repliedTo: { channelId: '300000000000000000', messageId: '700000000000000000' }, isAdmin: false });
    await ix.defer();
    await ix.editReply({ content: '⚠️ nope' });
    await ix.editReply({ content: '⚠️ still nope' });
    expect(sent).toEqual(['typing', '⚠️ nope', 'edit ⚠️ still nope']);
    expect(fromReply(message({ author: { id: '1', username: 'bot', bot: true } }), [])).toBeUndefined();
    expect(fromReply(message({ reference: null }), [])).toBeUndefined();
  });

  test('admins: Manage Server, or a configured role', () => {
    expect(isAdmin(new PermissionsBitField(PermissionsBitField.Flags.ManageGuild), null, [])).toBe(true);
    expect(isAdmin(new PermissionsBitField(PermissionsBitField.Flags.Administrator), null, [])).toBe(true);
    const member = { roles: ['400000000000000000'] } as never;
    expect(isAdmin(new PermissionsBitField(), member, ['400000000000000000'])).toBe(true);
    expect(isAdmin(new PermissionsBitField(), member, ['999999999999999999'])).toBe(false);
    expect(isAdmin(null, null, ['400000000000000000'])).toBe(false);
  });
});

describe('command registration', () => {
  const definitions = commandDefinitions(modules);

  test('the definitions: /imagine, /edit, /queue and the "Edit with prompt" message command, within Discord limits', () => {
    expect(definitions.map((d) => [d.name, d.type ?? ApplicationCommandType.ChatInput])).toEqual([
      ['imagine', ApplicationCommandType.ChatInput],
      ['edit', ApplicationCommandType.ChatInput],
      ['Edit with prompt', ApplicationCommandType.Message],
      ['queue', ApplicationCommandType.ChatInput],
    ]);
    for (const d of definitions) {
      const options = 'options' in d ? (d.options ?? []) : [];
      expect(options.length).toBeLessThanOrEqual(25);
      expect(JSON.stringify(d).length).toBeLessThan(8000);
      if ((d.type ?? ApplicationCommandType.ChatInput) === ApplicationCommandType.ChatInput) {
        expect(d.name).toMatch(/^[-_\p{Ll}\p{N}]{1,32}$/u);
        expect(('description' in d ? (d.description ?? '') : '').length).toBeLessThanOrEqual(100);
      }
    }
  });

  test('guild registration when a guild id is set, global otherwise (a bulk overwrite)', async () => {
    const puts: [string, unknown][] = [];
    const api = { put: async (route: string, options: { body: unknown }) => void puts.push([route, options.body]) };
    const guild = await registerCommands({ token: 't', appId: '111111111111111111', guildId: '222222222222222222' }, definitions, api);
    const global = await registerCommands({ token: 't', appId: '111111111111111111' }, definitions, api);
    expect(puts.map(([route]) => route)).toEqual(['/applications/111111111111111111/guilds/222222222222222222/commands', '/applications/111111111111111111/commands']);
    expect(puts[0][1]).toEqual(definitions);
    expect([guild.scope, global.scope]).toEqual(['guild', 'global']);
    expect(guild.names).toEqual(['imagine', 'edit', 'Edit with prompt', 'queue']);
  });
});

describe('the bot-token channel sink', () => {
  /** A client whose channel answers every edit with `error`. */
  const failingClient = (error: Error): Client =>
    ({
      channels: {
        fetch: async () => ({ isSendable: () => true, messages: { edit: async () => Promise.reject(error) } }),
      },
    }) as unknown as Client;
  const apiError = (code: number, status: number) =>
    new DiscordAPIError({ code, message: 'x' }, code, status, 'PATCH', '/channels/1/messages/2', { body: undefined, files: undefined });
  const ref = { channelId: '1', messageId: '2' };

  test('an edit of a deleted message (10008 Unknown Message) or of a gone channel (10003) is MessageGone', async () => {
    await expect(new DiscordChannelSink(failingClient(apiError(10008, 404))).edit(ref, { content: 'x' })).rejects.toBeInstanceOf(MessageGone);
    await expect(new DiscordChannelSink(failingClient(apiError(10003, 404))).edit(ref, { content: 'x' })).rejects.toBeInstanceOf(MessageGone);
  });

  test('other failures stay what they are; the sink declares Discord\'s per-channel edit budget', async () => {
    const missingAccess = apiError(50001, 403);
    await expect(new DiscordChannelSink(failingClient(missingAccess)).edit(ref, { content: 'x' })).rejects.toBe(missingAccess);
    expect(new DiscordChannelSink(failingClient(missingAccess)).editBudget).toEqual({ edits: 28, windowMs: 60_000 });
  });
});

describe('logging in', () => {
  /** A real discord.js client pointed at a local API; its login error, as the operator would be told it. */
  async function loginVia(api: string) {
    const client = new Client({ intents: [], rest: { api, retries: 0, timeout: 5000 } });
    try {
      await client.login('MTIz.not-a-real.token');
      throw new Error('login unexpectedly succeeded');
    } catch (e) {
      return loginFailure(e);
    } finally {
      await client.destroy();
    }
  }

  test('a token Discord refuses (401) says to check DISCORD_TOKEN', async () => {
    const server: Server = createServer((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: '401: Unauthorized', code: 0 }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const error = await loginVia(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api`);
      expect(error.code).toBe('bad_input');
      expect(error.message).toMatch(/^Discord refused the bot token: check DISCORD_TOKEN/);
    } finally {
      server.close();
    }
  });

  test('Discord out of reach is a network problem, not a token problem', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve)); // nothing listens there now
    const error = await loginVia(`http://127.0.0.1:${port}/api`);
    expect(error.code).toBe('unavailable');
    expect(error.message).toMatch(/^Could not reach Discord to log in: .*ECONNREFUSED.*Check the network connection/);
    expect(error.message).not.toContain('DISCORD_TOKEN');
  });
});
