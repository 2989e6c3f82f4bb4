import { describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ConsoleSession, runConsole } from '../src/bot/console/session.js';
import { parseSlash } from '../src/bot/console/slash.js';
import { tokenize } from '../src/bot/console/tokenize.js';
import { modules } from '../commands/index.js';
import { commandDefinitions } from '../src/bot/router.js';
import { FakeBackend, testSettings } from './bot-fakes.js';
import { referencePath } from './helpers.js';

function consoleRun() {
  const lines: string[] = [];
  const outDir = mkdtempSync(join(tmpdir(), 'reprompt-console-'));
  const backend = new FakeBackend();
  const settings = testSettings();
  return { lines, outDir, backend, settings, options: { backend, settings, outDir, write: (l: string) => lines.push(l) } };
}

async function* linesOf(script: string) {
  for (const line of script.split('\n')) yield line;
}

const definitions = commandDefinitions(modules);

describe('console driver', () => {
  test('a scripted session: imagine, a guidance variation, an edit, a stronger re-edit, attention maps', async () => {
    const run = consoleRun();
    await runConsole(
      linesOf(`
# a user's first session
/imagine prompt:"a red fox on a mat" seed:42 steps:3 width:128 height:128
click "CFG 11.5"
/edit edit:"fox→cat" image:m1
click Stronger
click Attention maps
`),
      run.options,
    );
    const out = run.lines.join('\n');
    // Each command is echoed, the private acknowledgement is shown, and each message gets an id.
    expect(run.lines).toContain('> /imagine prompt:"a red fox on a mat" seed:42 steps:3 width:128 height:128');
    expect(out).toMatch(/\(only you\) Queued as job #1 \(starting now\)\. The result will appear in this channel\./);
    expect(out).toMatch(/\[m1\] (⏳|🎨) @you · job #1 · (queued|starting…)/);
    expect(out).toMatch(/\[m1\]\* 🎨 @you · job #1 · ▰+▱* step 1\/3 · ETA 0 s/);
    // The finished generation: parameters, the saved image, numbered buttons.
    expect(out).toContain('[m1]* ✅ @you · job #1');
    expect(out).toContain('     Prompt: a red fox on a mat');
    expect(out).toContain('     Seed: 42 · Steps: 3 · CFG: 7.5 · Sampler: pndm · Size: 128×128');
    expect(out).toContain(`     file: ${join(run.outDir, 'job-1.png')}`);
    expect(out).toContain('     buttons: [1] CFG 4 (lower)  [2] CFG 11.5 (higher)  [3] CFG −7.5 (away from prompt)  [4] Reroll  [5] Edit…  [6] Attention maps  [7] Delete');
    // The click made a variation with the same seed, the edit a P2P edit, the re-edit a stronger one of the same source.
    expect(out).toContain('[m2]* ✅ @you · job #2 · guidance variation of #1');
    expect(out).toContain('[m3]* ✅ @you · job #3 · edit of #1');
    expect(out).toContain('     Source → target: a red fox on a mat → a red cat on a mat');
    expect(out).toContain('[m4]* ✅ @you · job #4 · stronger edit of #3');
    expect(out).toContain('     Mode: replace · Cross / self: 0.6 / 0.4');
    expect(out).toContain('Source attention: reused from the store');
    expect(out).toContain('[m5]* ✅ @you · job #5 · attention maps of #4');
    expect(run.backend.started.map((j) => j.kind)).toEqual(['imagine', 'imagine', 'edit', 'edit', 'edit']);
    expect(run.backend.started[4]).toMatchObject({ kind: 'edit', attentionMap: true, params: { cross: 0.6 } });
    for (const name of ['job-1.png', 'job-2.png', 'job-3.png', 'job-4.png', 'job-5.png', 'job-5-attention.png']) {
      const path = join(run.outDir, name);
      expect(existsSync(path)).toBe(true);
      expect((await sharp(path).metadata()).format).toBe('png');
    }
    expect(out).not.toContain('error:');
  });

  test('the edit dialog through menu and submit; plain replies; other users; help', async () => {
    const run = consoleRun();
    const session = new ConsoleSession(run.options);
    for (const line of [
      '/imagine prompt:"a red fox on a mat" seed:1 steps:2 width:64 height:64',
      'menu "Edit with prompt"',
      'submit cross=0.5',
      'submit edit="fox→owl" cross=0.5',
      'reply mat→rug',
      'as bob click Delete on m1',
      'click 7 on m1',
      'help',
    ]) {
      await session.handle(line);
    }
    await session.finish();
    const out = run.lines.join('\n');
    expect(out).toContain('(dialog) Edit image #1 — answer with: submit edit=… [cross=…] [self=…] [blend=…]');
    expect(out).toContain('error: The dialog needs edit=….');
    expect(out).toContain('[m2]* ✅ @you · job #2 · edit of #1');
    expect(out).toContain('     Mode: replace · Cross / self: 0.5 / 0.4');
    expect(out).toContain('[m3]* ✅ @you · job #3 · edit of #2'); // the reply went to the latest image (the edit)
    expect(out).toContain('Source → target: a red fox on a mat → a red owl on a rug');
    expect(out).toContain('(only you) ⚠️ Only the author of job #1 or an admin can delete it.');
    expect(out).toContain('[m1] (deleted)');
    expect(out).toContain('click <number|label> [on m3]');
  });

  test('mistakes are explained, never thrown', async () => {
    const run = consoleRun();
    const session = new ConsoleSession(run.options);
    for (const line of ['/imagine', '/imagine prompt:x steps:abc', '/imagine prompt:x colour:red', '/paint prompt:x', 'click 1', 'submit edit=x', 'dance', '/queue', '/imagine prompt:x width:100']) {
      await session.handle(line);
    }
    await session.finish();
    expect(run.lines.filter((l) => l.startsWith('error:') || l.startsWith('(only you)'))).toEqual([
      'error: /imagine needs prompt:….',
      'error: steps must be a whole number.',
      'error: /imagine has no option "colour" (options: prompt, negative, seed, steps, cfg, width, height, sampler, count).',
      'error: Unknown command /paint. Commands: /imagine, /edit, /queue.',
      'error: There is no message with a message with buttons yet.',
      'error: No dialog is open: press a button (or use a menu) that opens one.',
      'error: "dance" is not a command. Type help for the list.',
      'error: /queue needs one of: show, cancel, pause, resume.',
      '(only you) ⚠️ width 100 is not allowed: use a multiple of 64 from 64 to 512.',
    ]);
  });

  test('end of input with a paused queue leaves the jobs queued in the database; the next start resumes them', async () => {
    const run = consoleRun();
    await runConsole(linesOf('/queue pause\n/imagine prompt:x steps:2 width:64 height:64'), run.options);
    expect(run.lines.at(-1)).toBe('(1 job stay queued: the queue is paused; they resume when `reprompt local` or the bot starts again with this database)');
    expect(run.backend.started).toEqual([]);

    // The next session on the same database runs it in its own message, and numbers new messages after it.
    const next = { ...consoleRun(), settings: run.settings };
    await runConsole(linesOf('/imagine prompt:y steps:2 width:64 height:64\nwait\n/queue cancel job:1'), { ...next.options, settings: run.settings });
    const out = next.lines.join('\n');
    expect(next.lines[0]).toBe('(resumed 1 job from before the restart)');
    expect(out).toMatch(/\[m1\]\* ✅ @you · job #1\n/);
    expect(out).toMatch(/\[m2\] .*job #2/);
    expect(out).toMatch(/\[m2\]\* ✅ @you · job #2\n/);
    expect(out).not.toMatch(/\[m1\]\* .*job #2/);
    expect(out).toContain('Job #1 has already finished.');
    expect(next.backend.started.map((j) => j.kind === 'imagine' && j.params.prompt)).toEqual(['x', 'y']);
  });
});

describe('console input parsing', () => {
  test('/edit photo:@file attaches a local picture: it is inverted and edited; a missing file is explained', async () => {
    const run = consoleRun();
    const picture = referencePath('inversion/photo_256x192.png');
    await runConsole(
      linesOf(`
/edit edit:"house→castle" description:"a drawing of a house under the sun" photo:@${picture}
/edit edit:"house→castle" description:"a drawing of a house under the sun" photo:@nowhere.png
`),
      run.options,
    );
    const out = run.lines.join('\n');
    expect(out).toMatch(/\(only you\) Queued as job #1 \(starting now\), editing your picture \(256×192\)/);
    expect(out).toContain('[m1]* ✅ @you · job #1');
    expect(run.backend.started.map((j) => j.kind)).toEqual(['invert', 'edit']);
    expect(out).toMatch(/Cannot read nowhere\.png/);
    expect(() => parseSlash(`/edit edit:x photo:${picture}`, definitions)).toThrow(/photo takes a file: write photo:@path/);
  });

  test('tokenize keeps quoted values whole and honours escapes', () => {
    expect(tokenize(`/imagine prompt:"a \\"red\\" fox" seed:42 negative:'blur, text'`)).toEqual(['/imagine', 'prompt:a "red" fox', 'seed:42', 'negative:blur, text']);
    expect(() => tokenize('/imagine prompt:"open')).toThrow('Unclosed " quote.');
  });

  test('slash options are typed and checked like the Discord client does', () => {
    expect(parseSlash('/imagine prompt:"a fox" steps:4 cfg:-2.5 sampler:euler-a seed:18446744073709551615', definitions)).toEqual({
      command: 'imagine',
      options: { prompt: 'a fox', steps: 4, cfg: -2.5, sampler: 'euler-a', seed: '18446744073709551615' },
    });
    expect(parseSlash('/queue cancel job:3', definitions)).toEqual({ command: 'queue', subcommand: 'cancel', options: { job: 3 } });
    expect(parseSlash('/edit edit:fox→cat image:https://discord.com/channels/1/2/3', definitions).options.image).toBe('https://discord.com/channels/1/2/3');
    expect(() => parseSlash('/imagine prompt:x steps:2.5', definitions)).toThrow('steps must be a whole number.');
    expect(() => parseSlash('/imagine prompt:x steps:0', definitions)).toThrow('steps must be at least 1.');
    expect(() => parseSlash('/imagine prompt:x sampler:heun', definitions)).toThrow(/^sampler must be one of pndm, ddim, /);
    expect(() => parseSlash('/imagine prompt:x prompt:y', definitions)).toThrow('Option prompt is given twice.');
    expect(() => parseSlash('/edit cross:0.5', definitions)).toThrow('/edit needs edit:….');
  });
});
