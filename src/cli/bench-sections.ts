/**
 * What `reprompt bench` measures, as a list of sections. Each section runs on a shared context and returns
 * figures; it asserts nothing. Other layers add their own sections (Prompt-to-Prompt: plain vs edit batch,
 * first edit vs re-edit, attention-store memory) to the list in bench.ts.
 */
import type { ImagineJob, ImagineParams, ImagineResult, StepProgress } from '../engine/jobs.js';
import { StableDiffusionPipeline } from '../engine/pipeline.js';
import type { EngineWorker, WorkerPipelineOptions } from '../engine/worker/engine-worker.js';
import { withEventLoopLag, type EventLoopLag } from './event-loop-lag.js';

export interface BenchFigure {
  label: string;
  value: number;
  unit: string;
}

export interface StartedEngine {
  worker: EngineWorker;
  /** Spawning the worker and loading the pipeline in it. */
  startMs: number;
}

export interface BenchContext {
  /** The job the sections time (from --steps, --width, --height). */
  params: ImagineParams;
  modelDir: string;
  pipeline: WorkerPipelineOptions;
  /** The engine worker for a handler module (default: the engine's), started on first use and shared. */
  engine(handlers?: URL): Promise<StartedEngine>;
}

export interface BenchSection {
  title: string;
  run(context: BenchContext): Promise<BenchFigure[]>;
}

export const ms = (label: string, value: number): BenchFigure => ({ label, value, unit: 'ms' });

/** A short run first, so that the measured one does not pay for ONNX Runtime's first-run allocations. */
const warmUp = (params: ImagineParams): ImagineJob => ({ kind: 'imagine', params: { ...params, steps: 1 } });

const workerSection: BenchSection = {
  title: 'imagine in the engine worker',
  async run(context) {
    const { worker, startMs } = await context.engine();
    await worker.run(warmUp(context.params));
    const events: StepProgress[] = [];
    const job: ImagineJob = { kind: 'imagine', params: context.params };
    const { result, lag } = await withEventLoopLag(() => worker.run<ImagineResult>(job, { onProgress: (p) => events.push(p) }));
    return [ms('worker start and model load', startMs), ...jobFigures(result, events), ...lagFigures(lag)];
  },
};

const mainThreadSection: BenchSection = {
  title: 'the same job on the main thread (why the worker exists)',
  async run(context) {
    const loadStart = performance.now();
    const pipeline = await StableDiffusionPipeline.load(context.modelDir, context.pipeline);
    const loadMs = performance.now() - loadStart;
    try {
      await pipeline.imagine(warmUp(context.params));
      const { result, lag } = await withEventLoopLag(() => pipeline.imagine({ kind: 'imagine', params: context.params }));
      return [ms('model load', loadMs), ms('total', result.timings.totalMs), ...lagFigures(lag)];
    } finally {
      await pipeline.release();
    }
  },
};

/** The plain engine's sections. */
export const ENGINE_BENCH_SECTIONS: readonly BenchSection[] = [workerSection, mainThreadSection];

function jobFigures(result: ImagineResult, events: readonly StepProgress[]): BenchFigure[] {
  const { timings } = result;
  const unetMean = timings.unetMs / timings.unetCalls;
  const batch = result.params.guidance === 1 ? 'batch 1' : 'CFG batch 2';
  // Progress timestamps come from the worker: consecutive differences are whole steps (UNet + host work). The
  // first step is left out, as it also holds the text encoding.
  const stepMs = events.slice(1).map((event, i) => event.elapsedMs - events[i].elapsedMs);
  return [
    ms(`UNet per call, mean (${batch})`, unetMean),
    { label: `UNet speed (${batch})`, value: 1000 / unetMean, unit: 'it/s' },
    ...(stepMs.length > 0 ? [ms('step (UNet + host), median', median(stepMs))] : []),
    ms('host work per step, outside ONNX', timings.hostMsPerStep),
    ms('text encoder', timings.textEncoderMs),
    ms('VAE decoder', timings.vaeMs),
    ms('total', timings.totalMs),
  ];
}

function lagFigures(lag: EventLoopLag): BenchFigure[] {
  return [ms('main event-loop lag during the job, max', lag.maxMs), ms('main event-loop lag during the job, p99', lag.p99Ms)];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
