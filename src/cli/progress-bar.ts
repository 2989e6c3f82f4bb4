/** A one-line progress bar for the terminal: step k/n, it/s and ETA, redrawn in place. Silent when not a TTY. */
import type { StepProgress } from '../engine/jobs.js';

const WIDTH = 24;

export class ProgressBar {
  private drawn = false;

  /** A bar on `stream`, or one that draws nothing when the stream is piped or redirected. */
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  private get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  update(progress: StepProgress): void {
    if (!this.enabled) return;
    this.stream.write(`\r\x1b[2K${formatProgress(progress)}`);
    this.drawn = true;
  }

  /** Removes the bar, so that what follows starts on a clean line. */
  clear(): void {
    if (!this.drawn) return;
    this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}

function formatProgress({ step, total, elapsedMs, etaMs }: StepProgress): string {
  const filled = total > 0 ? Math.round((WIDTH * step) / total) : 0;
  const bar = '█'.repeat(filled) + '░'.repeat(WIDTH - filled);
  const rate = elapsedMs > 0 ? (step * 1000) / elapsedMs : 0;
  return `${bar} step ${step}/${total}  ${rate.toFixed(2)} it/s  ETA ${formatSeconds(etaMs)}`;
}

export function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}
