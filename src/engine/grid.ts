/**
 * A grid of candidates: seeds seed, seed+1, … (mod 2^64) drawn as ONE UNet batch, each row with its own generator
 * (its initial noise and, for ancestral samplers, its per-step noise), so candidate k equals a single imagine with
 * seed+k. How many fit in memory at once is the caller's decision: it splits larger grids into several jobs.
 */
import { UserError } from './errors.js';
import { encodePng, formatParameters } from './image.js';
import type { ImagineGridJob, ImagineGridResult, ImagineResult, StepProgress } from './jobs.js';
import { seedToBigInt } from './noise/seed.js';
import { imageRequest, type StableDiffusionPipeline } from './pipeline.js';

export const GRID_COUNT_RANGE = { min: 1, max: 4 } as const;

/** seed, seed+1, …, seed+count−1, wrapping at 2^64 (decimal strings). */
export function gridSeeds(seed: string, count: number): string[] {
  const first = seedToBigInt(seed);
  return Array.from({ length: count }, (_, k) => ((first + BigInt(k)) % (1n << 64n)).toString());
}

export async function imagineGrid(
  pipeline: StableDiffusionPipeline,
  job: ImagineGridJob,
  hooks: { onProgress?(p: StepProgress): void; shouldCancel?(): boolean } = {},
): Promise<ImagineGridResult> {
  const started = performance.now();
  const { count } = job;
  if (!Number.isInteger(count) || count < GRID_COUNT_RANGE.min || count > GRID_COUNT_RANGE.max) {
    throw new UserError('bad_input', `Count ${count} is not supported: expected a whole number from ${GRID_COUNT_RANGE.min} to ${GRID_COUNT_RANGE.max}.`);
  }
  const params = pipeline.resolve(job.params);
  const seeds = gridSeeds(params.seed, count);
  const one = imageRequest(params);
  const denoised = await pipeline.denoise({
    ...one,
    rows: seeds.map(() => one.rows[0]),
    seeds,
    onProgress: hooks.onProgress,
    shouldCancel: hooks.shouldCancel,
  });
  const decodeStart = performance.now();
  const images = await pipeline.decode(denoised.latents, denoised.shape);
  const timings = { ...denoised.timings, vaeMs: performance.now() - decodeStart, totalMs: 0 };
  const [, channels, height, width] = denoised.shape;
  const latentSize = channels * height * width;
  const candidates = await Promise.all(
    images.map(async (image, k): Promise<ImagineResult> => {
      const candidate = { ...params, seed: seeds[k] };
      const png = await encodePng(image, { parameters: formatParameters({ ...candidate, model: pipeline.model.name }) });
      const result: ImagineResult = {
        kind: 'imagine',
        params: candidate,
        image: { png, width: params.width, height: params.height },
        truncated: denoised.truncated[k],
        timings, // the batch's, shared by its candidates
      };
      if (job.returnLatents) result.latents = { data: denoised.latents.slice(k * latentSize, (k + 1) * latentSize), shape: [1, channels, height, width] };
      return result;
    }),
  );
  timings.totalMs = performance.now() - started;
  return { kind: 'imagine-grid', candidates, timings };
}
