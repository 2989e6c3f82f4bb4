/**
 * `reprompt bench` section of the grid (`/imagine count:4`): the engine's `imagine-grid` (4 candidates in one UNet
 * batch of 8 with CFG) against 4 single `imagine` jobs one after the other (batch 2 each), on the same engine worker.
 * Peak memory is the process's resident set sampled every 10 ms while each runs (the worker is a thread of this
 * process), above what it was just before: ONNX Runtime keeps what a batch size allocated, so the grid's extra
 * memory shows in its first run.
 */
import type { ImagineGridJob, ImagineGridResult, ImagineJob, ImagineParams } from '../engine/jobs.js';
import { gridSeeds } from '../engine/grid.js';
import type { BenchFigure, BenchSection } from './bench-sections.js';

const COUNT = 4;
const MiB = 1024 * 1024;

/** Runs `work` and reports its time and the highest resident set seen while it ran, above the start. */
async function measured(work: () => Promise<unknown>): Promise<{ ms: number; peakMiB: number; rssMiB: number }> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  const start = performance.now();
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  const ms = performance.now() - start;
  peak = Math.max(peak, process.memoryUsage.rss());
  return { ms, peakMiB: (peak - before) / MiB, rssMiB: peak / MiB };
}

const gridSection: BenchSection = {
  title: `grid of ${COUNT} in one batch vs ${COUNT} single jobs (time, peak memory)`,
  async run(context) {
    const { worker } = await context.engine();
    const params: ImagineParams = context.params;
    const grid: ImagineGridJob = { kind: 'imagine-grid', params, count: COUNT };
    const single = (seed: string): ImagineJob => ({ kind: 'imagine', params: { ...params, seed } });
    // Both warmed up: a single job (batch 2) and a 1-step grid (batch 8, whose first-run allocations ONNX Runtime
    // keeps: that growth is the grid's extra memory).
    await worker.run(single(params.seed));
    const warmUp: ImagineGridJob = { ...grid, params: { ...params, steps: 1 } };
    const firstGrid = await measured(() => worker.run(warmUp));
    const singles = await measured(async () => {
      for (const seed of gridSeeds(params.seed, COUNT)) await worker.run(single(seed));
    });
    let unetCalls = 0;
    const batched = await measured(async () => {
      unetCalls = (await worker.run<ImagineGridResult>(grid)).timings.unetCalls;
    });
    const figures: BenchFigure[] = [
      { label: `${COUNT} single jobs, total`, value: singles.ms, unit: 'ms' },
      { label: `grid of ${COUNT} (one batch, ${unetCalls} UNet calls), total`, value: batched.ms, unit: 'ms' },
      { label: 'grid time / singles time', value: batched.ms / singles.ms, unit: '×' },
      { label: `${COUNT} single jobs after one, peak RSS growth`, value: singles.peakMiB, unit: 'MiB' },
      { label: `first grid of ${COUNT} (1 step), peak RSS growth`, value: firstGrid.peakMiB, unit: 'MiB' },
      { label: `grid of ${COUNT} after the first, peak RSS growth`, value: batched.peakMiB, unit: 'MiB' },
      { label: `process RSS at the grid's peak`, value: batched.rssMiB, unit: 'MiB' },
    ];
    return figures;
  },
};

export const GRID_BENCH_SECTIONS: readonly BenchSection[] = [gridSection];
