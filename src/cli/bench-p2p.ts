/**
 * Prompt-to-Prompt's `reprompt bench` sections: what the attention patch costs per UNet call, what a re-edit saves
 * by replaying the stored source branch, and how much memory the attention store holds. Figures only.
 */
import { float32ToHalf, halfToFloat32 } from '../engine/fp16.js';
import sharp from 'sharp';
import type { ImagineParams } from '../engine/jobs.js';
import { StableDiffusionPipeline, type DenoiseRequest, type PipelineOptions, type PromptRow } from '../engine/pipeline.js';
import { parseEdit } from '../p2p/edit/language.js';
import { AttentionPatchLoader } from '../p2p/graph/loader.js';
import type { EditJob, EditResult } from '../p2p/jobs.js';
import { runEdit } from '../p2p/runtime/edit-runner.js';
import { AttentionStore, type SourceTrace, type StoreStats } from '../p2p/store.js';
import type { BenchContext, BenchFigure, BenchSection } from './bench-sections.js';
import { APP_HANDLERS_URL } from '../p2p/handlers-url.js';

/** The benchmark prompt's word to swap, and the words it becomes in the edit and the re-edit. */
const SWAPPED_WORD = 'fox';
const EDIT_WORD = 'cat';
const REEDIT_WORD = 'wolf';

const ms = (label: string, value: number): BenchFigure => ({ label, value, unit: 'ms' });
const mb = (label: string, bytes: number): BenchFigure => ({ label, value: bytes / 2 ** 20, unit: 'MiB' });
const count = (label: string, value: number): BenchFigure => ({ label, value, unit: '' });
const percentMore = (label: string, value: number, base: number): BenchFigure => ({ label, value: (100 * (value - base)) / base, unit: '%' });

/** A swap of the benchmark prompt's SWAPPED_WORD; when the prompt lacks it, a refinement (the full new prompt). */
function editOf(params: ImagineParams, word: string): string {
  return params.prompt.split(' ').includes(SWAPPED_WORD) ? `${SWAPPED_WORD}→${word}` : `${params.prompt}, ${word}`;
}

const editJob = (source: ImagineParams, word: string): EditJob => ({ kind: 'edit', params: { source, edit: editOf(source, word) } });

/** The same job with one step: ONNX Runtime's first run at a batch size pays for allocations the measured one should not. */
const oneStep = (params: ImagineParams): ImagineParams => ({ ...params, steps: 1 });

export const unetPerCall = (timings: { unetMs: number; unetCalls: number }): number => timings.unetMs / timings.unetCalls;

async function withPipeline<T>(context: BenchContext, options: Partial<PipelineOptions>, use: (pipeline: StableDiffusionPipeline) => Promise<T>): Promise<T> {
  const pipeline = await StableDiffusionPipeline.load(context.modelDir, { ...context.pipeline, ...options });
  try {
    return await use(pipeline);
  } finally {
    await pipeline.release();
  }
}

/** Mean UNet ms per call of a plain denoise of the source and the edited prompt together (the edit's batch). */
async function twoRowUNetMs(pipeline: StableDiffusionPipeline, params: ImagineParams): Promise<number> {
  const row = (prompt: string): PromptRow => ({ prompt, negativePrompt: params.negativePrompt, guidance: params.guidance });
  const { target } = parseEdit({ source: params.prompt, edit: editOf(params, EDIT_WORD) });
  const request = (p: ImagineParams): DenoiseRequest => ({ ...p, rows: [row(p.prompt), row(target)] });
  await pipeline.denoise(request(oneStep(params)));
  return unetPerCall((await pipeline.denoise(request(params))).timings);
}

const patchSection: BenchSection = {
  title: 'Prompt-to-Prompt: the attention patch, 2 prompt rows per UNet call (main thread)',
  async run(context) {
    const { params } = context;
    const unpatched = await withPipeline(context, {}, (pipeline) => twoRowUNetMs(pipeline, params));
    const loader = new AttentionPatchLoader();
    return withPipeline(context, { unetLoader: loader }, async (pipeline) => {
      const load = loader.lastLoad!;
      const neutral = await twoRowUNetMs(pipeline, params);
      const editContext = { pipeline, meta: loader.meta! };
      await runEdit(editContext, editJob(oneStep(params), EDIT_WORD));
      const edit = unetPerCall((await runEdit(editContext, editJob(params, EDIT_WORD))).timings);
      return [
        ms(`patched UNet load (${load.fromCache ? 'from the patch cache' : 'patched and probed now'})`, load.ms),
        ms('UNet per call, unpatched', unpatched),
        ms('UNet per call, patched, neutral controls', neutral),
        ms(`UNet per call, patched, edit ${editOf(params, EDIT_WORD)}`, edit),
        percentMore('patch overhead, neutral controls', neutral, unpatched),
        percentMore('patch overhead, edit', edit, unpatched),
      ];
    });
  },
};

/** The attention store of the app worker, through its `store-stats` job kind. */
const storeStats = (context: BenchContext): Promise<StoreStats> =>
  context.engine(APP_HANDLERS_URL).then(({ worker }) => worker.run<StoreStats>({ kind: 'store-stats' }));

const reEditSection: BenchSection = {
  title: 'Prompt-to-Prompt: first edit vs re-edit with the stored source (engine worker)',
  async run(context) {
    const { worker, startMs } = await context.engine(APP_HANDLERS_URL);
    const { params } = context;
    await worker.run<EditResult>(editJob(oneStep(params), EDIT_WORD));
    const before = await storeStats(context);
    const first = await worker.run<EditResult>(editJob(params, EDIT_WORD));
    const after = await storeStats(context);
    const again = await worker.run<EditResult>(editJob(params, REEDIT_WORD));
    return [
      ms('worker start, patched UNet load', startMs),
      ms('first edit, total', first.timings.totalMs),
      ms('first edit, UNet per call', unetPerCall(first.timings)),
      mb('store growth from the first edit (0: its trace is over the budget)', after.bytes - before.bytes),
      ms('re-edit, total', again.timings.totalMs),
      ms('re-edit, UNet per call', unetPerCall(again.timings)),
      count('re-edit reused the stored source (1 yes, 0 no)', again.reusedSource ? 1 : 0),
      { label: 're-edit speed-up, total', value: first.timings.totalMs / again.timings.totalMs, unit: '×' },
    ];
  },
};

const storeSection: BenchSection = {
  title: 'Prompt-to-Prompt: the attention store after these edits (engine worker, store-stats)',
  async run(context) {
    const stats = await storeStats(context);
    return [
      count('source traces stored', stats.entries),
      mb('memory held', stats.bytes),
      count('hits (re-edits that replayed a source)', stats.hits),
      count('misses', stats.misses),
      count('evictions', stats.evictions),
    ];
  },
};

/** Largest absolute value. */
function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The attention store's default budget in the app worker (src/p2p/handlers.ts). */
const HOT_CACHE_BUDGET_BYTES = 2048 * 2 ** 20;

const trajectorySection: BenchSection = {
  title: 'Prompt-to-Prompt: edits that replay the source trajectory (main thread, patched UNet)',
  async run(context) {
    const { params } = context;
    const loader = new AttentionPatchLoader();
    return withPipeline(context, { unetLoader: loader }, async (pipeline) => {
      const meta = loader.meta!;
      const job = (p: ImagineParams): EditJob => ({ ...editJob(p, EDIT_WORD), returnLatents: true });
      // Every batch size once, so that none of the measured runs pays for first-run allocations.
      const warm = await runEdit({ pipeline, meta }, job(oneStep(params)));
      await runEdit({ pipeline, meta }, { ...job(oneStep(params)), sourceTrajectory: warm.sourceTrajectory });
      await pipeline.imagine({ kind: 'imagine', params: oneStep(params) });

      const plain = await pipeline.imagine({ kind: 'imagine', params, returnTrajectory: true });
      const trajectory = plain.trajectory!;
      const full = await runEdit({ pipeline, meta }, job(params));
      const replayed = await runEdit({ pipeline, meta }, { ...job(params), sourceTrajectory: trajectory });
      // The app worker's default budget: a trace over it is not kept, and the hot-cache figures are then left out.
      const store = new AttentionStore<SourceTrace>({ budgetBytes: HOT_CACHE_BUDGET_BYTES });
      await runEdit({ pipeline, meta, store }, { ...job(params), sourceTrajectory: trajectory }); // records the hot cache
      const cached = await runEdit({ pipeline, meta, store }, job(params));

      // Float16 storage: the same replay from the trajectory rounded to half precision.
      const half: typeof trajectory = { data: halfToFloat32(float32ToHalf(trajectory.data)), shape: trajectory.shape };
      const fromHalf = await runEdit({ pipeline, meta }, { ...job(params), sourceTrajectory: half });
      const [exactRgb, halfRgb] = await Promise.all([replayed, fromHalf].map((r) => sharp(r.image.png).removeAlpha().raw().toBuffer()));
      const scale = maxAbs(replayed.latents!.data);

      return [
        ms('plain image (2 UNet rows), total', plain.timings.totalMs),
        ms('plain image, UNet per call', unetPerCall(plain.timings)),
        ms('full edit (4 rows: source with its guidance pair), total', full.timings.totalMs),
        ms('full edit, UNet per call', unetPerCall(full.timings)),
        ms('trajectory edit (3 rows: source cond only, replayed), total', replayed.timings.totalMs),
        ms('trajectory edit, UNet per call', unetPerCall(replayed.timings)),
        ...(cached.sourceFrom === 'store'
          ? [
              ms('hot-cache edit (2 rows: source attention from the store), total', cached.timings.totalMs),
              ms('hot-cache edit, UNet per call', unetPerCall(cached.timings)),
              mb('hot-cache bytes per source (attention trace)', store.stats().bytes),
            ]
          : [count(`hot cache: the source's attention trace is over ${HOT_CACHE_BUDGET_BYTES / 2 ** 20} MiB, not kept`, 0)]),
        { label: 'trajectory edit vs full edit, total', value: replayed.timings.totalMs / full.timings.totalMs, unit: '×' },
        { label: 'trajectory edit latents vs full edit, max |Δ| / max |ref|', value: maxAbsDiff(replayed.latents!.data, full.latents!.data) / scale, unit: '' },
        { label: 'trajectory bytes per image (float32)', value: trajectory.data.byteLength / 1024, unit: 'KiB' },
        { label: 'float16 trajectory: edit latents max |Δ| / max |ref|', value: maxAbsDiff(fromHalf.latents!.data, replayed.latents!.data) / scale, unit: '' },
        count('float16 trajectory: PNG max level difference', maxAbsDiff(exactRgb, halfRgb)),
      ];
    });
  },
};

/** Prompt-to-Prompt's sections, in order (the store section reads the store the re-edit section filled). */
export const P2P_BENCH_SECTIONS: readonly BenchSection[] = [patchSection, reEditSection, storeSection, trajectorySection];
