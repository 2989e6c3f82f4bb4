/**
 * `reprompt bench --json`: the figures of issue 10 as one JSON object. Each measurement runs in a fresh process
 * (bench-phase.ts), because a process's peak RSS never goes down: measured in one process, the edit's peak would
 * hide the plain image's, and whichever ran second would find the first one's arena.
 */
import { fork } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImagineParams } from '../engine/jobs.js';
import { defaultIntraOpThreads } from '../engine/onnx/session.js';
import type { WorkerPipelineOptions } from '../engine/worker/engine-worker.js';
import type { Phase, PhaseRequest, PhaseResult } from './bench-phase.js';

export interface BenchJson {
  model: string;
  provider: string;
  width: number;
  height: number;
  steps: number;
  threads: number;
  /** Worker start to warm (model load, patch from the cache, warm-up at the plain and the edit batch). */
  ready_ms: number;
  /** Per UNet call of a plain image (CFG batch 2), on the patched graph jobs use (self-attention fused). */
  unet_ms_plain: number;
  /** The same call with every attention explicit. */
  unet_ms_explicit: number;
  /** Per UNet call of an edit (source + target with CFG: batch 4), fused graph. */
  edit_ms_per_call: number;
  peak_rss_mb_plain: number;
  peak_rss_mb_explicit: number;
  peak_rss_mb_edit: number;
}

/** The phase entry beside this module, with this module's own extension (.ts from sources, .js when built). */
const PHASE_ENTRY = fileURLToPath(new URL(extname(fileURLToPath(import.meta.url)) === '.ts' ? './bench-phase.mjs' : './bench-phase.js', import.meta.url));

function runPhase(request: PhaseRequest): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const child = fork(PHASE_ENTRY, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    let answered = false;
    child.once('message', (message: { ok: true; result: PhaseResult } | { ok: false; error: string }) => {
      answered = true;
      if (message.ok) resolve(message.result);
      else reject(new Error(`bench ${request.phase}: ${message.error}`));
    });
    child.once('exit', (code) => {
      if (!answered) reject(new Error(`bench ${request.phase}: the measurement process ended (exit code ${code}) without a result`));
    });
    child.send(request);
  });
}

export async function benchJson(modelDir: string, pipeline: WorkerPipelineOptions, params: ImagineParams, edit: string): Promise<BenchJson> {
  const run = (phase: Phase): Promise<PhaseResult> => runPhase({ phase, modelDir, pipeline, params, edit });
  // One at a time: they would share the cores (and memory) otherwise.
  const ready = await run('ready');
  const explicit = await run('explicit');
  const editPhase = await run('edit');
  const round = (v: number): number => Math.round(v * 10) / 10;
  return {
    model: modelDir,
    provider: pipeline.provider ?? 'cpu',
    width: params.width,
    height: params.height,
    steps: params.steps,
    threads: pipeline.intraOpThreads ?? defaultIntraOpThreads(),
    ready_ms: round(ready.readyMs ?? NaN),
    unet_ms_plain: round(ready.unetMsPerCall),
    unet_ms_explicit: round(explicit.unetMsPerCall),
    edit_ms_per_call: round(editPhase.unetMsPerCall),
    peak_rss_mb_plain: round(ready.peakRssMb),
    peak_rss_mb_explicit: round(explicit.peakRssMb),
    peak_rss_mb_edit: round(editPhase.peakRssMb),
  };
}
