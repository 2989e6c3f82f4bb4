/**
 * One measurement of `reprompt bench --json`, run in a process of its own (bench-json.ts), so that the process's
 * peak RSS is that measurement's: the parent sends a PhaseRequest, this answers one PhaseResult and exits.
 */
import type { ImagineJob, ImagineParams, ImagineResult } from '../engine/jobs.js';
import { StableDiffusionPipeline } from '../engine/pipeline.js';
import { EngineWorker, type WorkerPipelineOptions } from '../engine/worker/engine-worker.js';
import { AttentionPatchLoader } from '../p2p/graph/loader.js';
import { APP_HANDLERS_URL } from '../p2p/handlers-url.js';
import type { EditJob } from '../p2p/jobs.js';
import { runEdit } from '../p2p/runtime/edit-runner.js';

/**
 * ready: the app's engine worker (fused patch) from start to warm, then one plain image;
 * explicit: the same image on the main thread with every attention explicit;
 * edit: one Prompt-to-Prompt edit (source + target, CFG: UNet batch 4) with the fused patch.
 */
export type Phase = 'ready' | 'explicit' | 'edit';

export interface PhaseRequest {
  phase: Phase;
  modelDir: string;
  pipeline: WorkerPipelineOptions;
  params: ImagineParams;
  edit: string;
}

export interface PhaseResult {
  /** Worker start, model load and warm-up (phase 'ready' only). */
  readyMs?: number;
  unetMsPerCall: number;
  peakRssMb: number;
}

const perCall = (t: { unetMs: number; unetCalls: number }): number => t.unetMs / t.unetCalls;
const peakRssMb = (): number => process.resourceUsage().maxRSS / 1024;

async function measure(request: PhaseRequest): Promise<PhaseResult> {
  const { phase, modelDir, pipeline, params } = request;
  if (phase === 'ready') {
    const started = performance.now();
    const warmUp = { width: params.width, height: params.height, promptRows: [1, 2] };
    const worker = await EngineWorker.start({ modelDir, pipeline: { ...pipeline, warmUp }, handlers: APP_HANDLERS_URL });
    const readyMs = performance.now() - started;
    try {
      const job: ImagineJob = { kind: 'imagine', params };
      const result = await worker.run<ImagineResult>(job);
      return { readyMs, unetMsPerCall: perCall(result.timings), peakRssMb: peakRssMb() };
    } finally {
      await worker.close();
    }
  }
  const loader = new AttentionPatchLoader({ fuseSelfAttention: phase !== 'explicit' });
  const engine = await StableDiffusionPipeline.load(modelDir, { ...pipeline, unetLoader: loader });
  try {
    // One step first: the measured run should not pay ORT's first-run allocations.
    const oneStep = { ...params, steps: 1 };
    if (phase === 'explicit') {
      await engine.imagine({ kind: 'imagine', params: oneStep });
      const result = await engine.imagine({ kind: 'imagine', params });
      return { unetMsPerCall: perCall(result.timings), peakRssMb: peakRssMb() };
    }
    const context = { pipeline: engine, meta: loader.meta! };
    const job = (source: ImagineParams): EditJob => ({ kind: 'edit', params: { source, edit: request.edit } });
    await runEdit(context, job(oneStep));
    const result = await runEdit(context, job(params));
    return { unetMsPerCall: perCall(result.timings), peakRssMb: peakRssMb() };
  } finally {
    await engine.release();
  }
}

process.once('message', (request: PhaseRequest) => {
  measure(request).then(
    (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
    (error: unknown) => process.send?.({ ok: false, error: error instanceof Error ? error.message : String(error) }, () => process.exit(1)),
  );
});
