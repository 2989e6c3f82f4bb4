/** The console driver shows a grid's buttons (they come from the rendered rows) and presses them like Discord. */
import { describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runConsole } from '../src/bot/console/session.js';
import { FakeBackend, testSettings } from './bot-fakes.js';

async function* linesOf(script: string) {
  for (const line of script.split('\n')) yield line;
}

describe('console driver: grid, Vary, Upscale', () => {
  test('/imagine count:4, then U2, V1 and Vary (Subtle) on the upscale', async () => {
    const lines: string[] = [];
    const outDir = mkdtempSync(join(tmpdir(), 'reprompt-console-grid-'));
    const backend = new FakeBackend();
    await runConsole(
      linesOf(`
/imagine prompt:"a red fox" seed:42 steps:2 width:64 height:64 count:4
wait
click U2
click V1 on m1
wait
click "Vary (Subtle)" on m2
`),
      { backend, settings: testSettings(), outDir, write: (l: string) => lines.push(l) },
    );
    const out = lines.join('\n');
    expect(out).toContain('[m1]* ✅ @you · job #1 · grid of 4');
    expect(out).toContain('     buttons: [1] U1  [2] U2  [3] U3  [4] U4  [5] V1  [6] V2  [7] V3  [8] V4  [9] Edit 1  [10] Edit 2  [11] Edit 3  [12] Edit 4  [13] Reroll  [14] Delete');
    expect(out).toContain('[m2]* ✅ @you · job #6 · upscale of #3');
    expect(out).toContain('[m3]* ✅ @you · job #7 · strong variation of #2');
    expect(out).toContain('[m4]* ✅ @you · job #8 · subtle variation of #6');
    expect(out).toContain('     buttons: [1] CFG 4 (lower)  [2] CFG 11.5 (higher)  [3] CFG −7.5 (away from prompt)  [4] Vary (Subtle)  [5] Vary (Strong)  [6] Upscale ×2  [7] Delete');
    expect(await sharp(join(outDir, 'job-1-grid.png')).metadata()).toMatchObject({ width: 128, height: 128 });
    expect(await sharp(join(outDir, 'job-6.png')).metadata()).toMatchObject({ width: 128, height: 128 });
    expect(existsSync(join(outDir, 'job-8.png'))).toBe(true);
    expect(backend.started.map((j) => j.kind)).toEqual(['imagine-grid', 'img2img', 'img2img', 'img2img']);
    expect(out).not.toContain('error:');
  });
});
