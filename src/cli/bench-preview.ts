/**
 * What live previews cost (a section of `reprompt bench`): one preview is x₀ from the step's UNet input and model
 * output, the latent→RGB factors, an upscale to 256 px and a WebP (or JPEG) encode. Timed on synthetic latents of
 * the bench's size and of a 512² image (64² latents), with the model's own sampler; the bytes are what a status
 * edit uploads. The worker section then shows a whole job with the bot's preview settings.
 */
import type { ImagineJob, ImagineResult, StepProgress } from '../engine/jobs.js';
import { loadModelInfo } from '../engine/model.js';
import { LatentPreviewer, type PreviewFormat } from '../engine/preview.js';
import { createScheduler } from '../engine/schedulers/index.js';
import { median, type BenchFigure, type BenchSection } from './bench-sections.js';

/** Previews timed per size and format (the median is reported). */
const ROUNDS = 15;
const CHANNELS = 4;

async function previewFigures(modelDir: string, latentSide: { height: number; width: number }, steps: number, format: PreviewFormat): Promise<BenchFigure[]> {
  const model = await loadModelInfo(modelDir);
  const scheduler = createScheduler(model.schedulerConfig);
  scheduler.setTimesteps(steps);
  const previewer = new LatentPreviewer(scheduler, steps, { format });
  const size = CHANNELS * latentSide.height * latentSide.width;
  const input = Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37) * 1.5);
  const output = Float32Array.from({ length: size }, (_, i) => Math.cos(i * 0.11));
  const shape = { row: 0, channels: CHANNELS, ...latentSide };
  const times: number[] = [];
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    const preview = await previewer.render(Math.floor(scheduler.timesteps.length / 2), input, output, shape);
    times.push(performance.now() - started);
    bytes = preview.data.byteLength;
  }
  const image = `${latentSide.width * model.vaeScaleFactor}×${latentSide.height * model.vaeScaleFactor}`;
  return [
    { label: `one ${format} preview of a ${image} image (${latentSide.width}×${latentSide.height} latents), median`, value: median(times), unit: 'ms' },
    { label: `its size`, value: bytes, unit: 'bytes' },
  ];
}

const previewSection: BenchSection = {
  title: 'live previews (x₀ → latent RGB → 256 px)',
  async run(context) {
    const scale = (await loadModelInfo(context.modelDir)).vaeScaleFactor;
    const benchLatents = { height: context.params.height / scale, width: context.params.width / scale };
    const figures: BenchFigure[] = [];
    for (const latents of [benchLatents, { height: 64, width: 64 }]) {
      for (const format of ['webp', 'jpeg'] as const) figures.push(...(await previewFigures(context.modelDir, latents, context.params.steps, format)));
    }
    // A whole job in the worker with as many previews as it has steps (the bot asks for at most 8, 3 s apart).
    const { worker } = await context.engine();
    const run = async (preview: boolean): Promise<{ totalMs: number; previews: number }> => {
      const events: StepProgress[] = [];
      const job: ImagineJob = { kind: 'imagine', params: context.params, ...(preview ? { preview: { count: context.params.steps } } : {}) };
      const result = await worker.run<ImagineResult>(job, { onProgress: (p) => events.push(p) });
      return { totalMs: result.timings.totalMs, previews: events.filter((e) => e.preview).length };
    };
    await run(false); // warm-up
    const plain = await run(false);
    const withPreviews = await run(true);
    return [
      ...figures,
      { label: 'job without previews, total', value: plain.totalMs, unit: 'ms' },
      { label: `the same job with a preview on ${withPreviews.previews} of ${context.params.steps} steps, total`, value: withPreviews.totalMs, unit: 'ms' },
    ];
  },
};

export const PREVIEW_BENCH_SECTIONS: readonly BenchSection[] = [previewSection];

