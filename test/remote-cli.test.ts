/** `reprompt worker` and `reprompt local --redis` on bad input: one clear line, before any model is loaded. */
import { describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { withoutPassword } from '../src/bot/remote/connect.js';
import { repoRoot } from './helpers.js';
import { freePort } from './redis-server.js';

function reprompt(args: readonly string[], stdin = ''): Promise<{ code: number | null; stderr: string }> {
  const { REPROMPT_MODEL_DIR: _model, REDIS_URL: _redis, ...env } = process.env;
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'reprompt.mjs'), ...args], { env });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdin.end(stdin);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('distributed mode on the command line', () => {
  test('a worker needs --redis, and a provider this onnxruntime-node has', async () => {
    const missing = await reprompt(['worker']);
    expect([missing.code, missing.stderr]).toEqual([2, "reprompt: required option '--redis <url>' not specified\n"]);
    const provider = await reprompt(['worker', '--redis', 'redis://127.0.0.1:6379', '--provider', 'dml']);
    expect(provider.code).toBe(2);
    expect(provider.stderr).toContain("option '--provider <name>' argument 'dml' is invalid");
  }, 60_000);

  test('no Redis at the URL: worker and local --redis stop at once with one line naming it, without its password', async () => {
    const port = await freePort(); // nothing listens there
    const url = `redis://:s3cret@127.0.0.1:${port}`;
    for (const args of [['worker', '--redis', url, '--threads', '1'], ['local', '--redis', url, '--db', join(repoRoot, 'no-such-dir', 'never.db')]]) {
      const run = await reprompt(args);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`reprompt: Cannot reach Redis at redis://:***@127.0.0.1:${port}: connect ECONNREFUSED`);
      expect(run.stderr).not.toContain('s3cret');
    }
  }, 60_000);

  test('withoutPassword hides only the password', () => {
    expect(withoutPassword('redis://:pw@host:6379/2')).toBe('redis://:***@host:6379/2');
    expect(withoutPassword('redis://user:pw@host')).toBe('redis://user:***@host');
    expect(withoutPassword('redis://host:6379')).toBe('redis://host:6379');
  });
});
