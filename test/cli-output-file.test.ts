/** The CLI's output files: checked as options, written whole or not at all. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { outputFile, writeOutputFile } from '../src/cli/output-file.js';
import { repoRoot } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'reprompt-output-file-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('output files', () => {
  test('a new file in folders that do not exist yet is accepted, and writing creates them with the whole content', () => {
    const path = join(dir, 'a', 'b', 'image.png');
    expect(outputFile(path)).toBe(path);
    expect(readdirSync(dir)).toEqual([]); // checking creates nothing
    const bytes = Uint8Array.from({ length: 100_000 }, (_, i) => i % 251);
    writeOutputFile(path, bytes);
    expect(readFileSync(path).equals(Buffer.from(bytes))).toBe(true);
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['image.png']);
  });

  test('a failed write leaves the old file as it was and no temporary file', () => {
    const folder = join(dir, 'kept');
    mkdirSync(folder);
    const path = join(folder, 'image.png');
    writeFileSync(path, 'the old image');
    // A folder where the temporary file would go makes the write fail after the checks passed.
    mkdirSync(join(folder, `.image.png.${process.pid}.tmp`));
    expect(() => writeOutputFile(path, new Uint8Array(10))).toThrow(expect.objectContaining({ name: 'UserError', message: expect.stringContaining(`Could not write ${path}`) }));
    expect(readFileSync(path, 'utf8')).toBe('the old image');
    rmSync(join(folder, `.image.png.${process.pid}.tmp`), { recursive: true });
    expect(readdirSync(folder)).toEqual(['image.png']);
  });

  test('a write that fails half-way (the file-size limit, as a full disk would) leaves the old file and no temporary file', () => {
    const folder = join(dir, 'limited');
    mkdirSync(folder);
    const path = join(folder, 'image.png');
    writeFileSync(path, 'the old image');
    const script = join(folder, 'write.mts');
    writeFileSync(
      script,
      `import { writeOutputFile } from ${JSON.stringify(pathToFileURL(join(repoRoot, 'src', 'cli', 'output-file.ts')).href)};
process.on('SIGXFSZ', () => {}); // the write then fails with EFBIG instead of killing the process
try { writeOutputFile(${JSON.stringify(path)}, new Uint8Array(200_000)); console.log('written'); }
catch (error) { console.log(error.name, error.message); }`,
    );
    // 50 blocks of 512 bytes: the first 25 kB of the 200 kB are written, then the limit stops the write.
    const run = spawnSync('bash', ['-c', 'ulimit -f 50 && exec "$0" --import tsx "$1"', process.execPath, script], { cwd: repoRoot, encoding: 'utf8' });
    expect(run.stdout).toMatch(new RegExp(`^UserError Could not write ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: EFBIG`));
    expect(readFileSync(path, 'utf8')).toBe('the old image');
    expect(readdirSync(folder).sort()).toEqual(['image.png', 'write.mts']);
  });

  test.each([
    ['a folder', () => dir, /folder/],
    ['a device', () => '/dev/full', /not a regular file/],
    ['below a file', () => join(dir, 'file.txt', 'x.png'), /is not a folder/],
    ['in /proc', () => '/proc/x.png', /Cannot create files in \/proc/],
    ['empty', () => '', /Expected a file name/],
  ])('%s is refused', (_case, path, message) => {
    writeFileSync(join(dir, 'file.txt'), 'x');
    expect(() => outputFile(path())).toThrow(message);
  });
});
