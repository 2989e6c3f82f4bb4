/**
 * A real redis-server for tests (Debian's package; .ci/run installs it): started on a free loopback port in a
 * temporary folder, without persistence, and stopped by the test. restart() keeps the port, so clients that
 * reconnect find the new, empty server: what a crash of Redis without persistence looks like.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  /** Kills it (SIGKILL: no chance to save) and starts an empty one on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function launch(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`redis-server could not be started (is Debian's redis-server installed?): ${e.message}`));
    });
    const early = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${output}`));
    };
    child.once('exit', early);
    let ready = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      if (ready) return; // keep draining the pipe, nothing more to learn
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        ready = true;
        clearTimeout(timer);
        child.off('exit', early);
        resolve(child);
      }
    });
  });
}

function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export async function startRedisServer(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'reprompt-redis-'));
  const port = await freePort();
  let child = await launch(port, dir);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart() {
      await kill(child, 'SIGKILL');
      child = await launch(port, dir);
    },
    async stop() {
      await kill(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
