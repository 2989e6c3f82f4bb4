/**
 * Cross-attention heat maps on the bundled model: the maps the controller accumulates during a plain generation
 * against the reference's aggregate_attention (cases.json `attention_map`), and the worker's `imagine` handler with
 * `attentionMap: true`.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ImagineJob, ImagineParams, ImagineResult } from '../src/engine/jobs.js';
import { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import type { JobContext, JobHandlers } from '../src/engine/worker/job-handler.js';
import type { PatchedUNetMeta } from '../src/p2p/graph/contract.js';
import { AttentionAccumulator } from '../src/p2p/heatmap.js';
import { AttentionController } from '../src/p2p/runtime/attention-controller.js';
import { HEATMAP_LEVEL, heatmapOutput } from '../src/p2p/runtime/edit-runner.js';
import { caseParams, decodePng, expectLatentsClose, expectPngClose, readReference, TEST_SESSIONS, type Txt2ImgCase } from './engine-helpers.js';
import { maxAbsDiff, referenceCases, tinyModelDir } from './helpers.js';
import { expectSameImage, loadPatchedPipeline, smallSource } from './p2p-e2e-helpers.js';

interface AttentionMapCase extends Txt2ImgCase {
  maps: Record<string, { file: { file: string; shape: number[] }; n_maps_averaged: number }>;
}

const reference = referenceCases<{ attention_map: AttentionMapCase }>().attention_map;

let pipeline: StableDiffusionPipeline;
let meta: PatchedUNetMeta;
let cacheDir: string;

beforeAll(async () => {
  ({ pipeline, meta, cacheDir } = await loadPatchedPipeline());
});
afterAll(async () => pipeline?.release());

/** A plain generation that accumulates prompt row 0's head-averaged cross-attention maps at `level`. */
async function imagineWithMaps(params: ImagineParams, level: number): Promise<{ result: ImagineResult; maps: AttentionAccumulator }> {
  const maps = new AttentionAccumulator();
  const controller = new AttentionController({ meta, heatmap: { accumulator: maps, promptRow: 0, level } });
  const result = await pipeline.imagine({ kind: 'imagine', params, returnLatents: true }, { controller });
  return { result, maps };
}

describe('the accumulated cross-attention maps match the reference', () => {
  // Level 1 is latent/2 (16×16 at 256²), level 2 latent/4 (8×8); the reference averages the down and up layers
  // there, as the accumulator does (the mid block is level 3 at this size).
  test.each([
    [1, '16'],
    [2, '8'],
  ])('level %d (%s² maps), and the image is the plain generation', async (level, side) => {
    const { result, maps } = await imagineWithMaps(caseParams(reference), level);
    const expected = readReference(reference.maps[side].file);
    const mean = maps.mean(level);
    expect(mean.length).toBe(expected.length);
    expect(maxAbsDiff(mean, expected)).toBeLessThanOrEqual(1e-5);
    expect(maps.levels()).toEqual([level]);
    // Capturing maps leaves the generation as it is.
    expectLatentsClose(result.latents!.data, readReference(reference.final_latents));
    await expectPngClose(result.image.png, reference.image_png);
  });
});

describe('the imagine handler with attentionMap', () => {
  let handlers: JobHandlers;
  let handlerPipeline: StableDiffusionPipeline;
  const context = (): JobContext => ({ pipeline: handlerPipeline, onProgress: () => {}, shouldCancel: () => false });
  const params = smallSource({ steps: 4 });

  beforeAll(async () => {
    // The handler module patches through its own loader, whose cache folder it reads from the environment at import.
    const saved = process.env.REPROMPT_CACHE_DIR;
    process.env.REPROMPT_CACHE_DIR = cacheDir;
    try {
      const module = await import('../src/p2p/handlers.js');
      handlers = module.handlers;
      handlerPipeline = await StableDiffusionPipeline.load(tinyModelDir, { ...TEST_SESSIONS, ...module.pipelineOptions() });
    } finally {
      if (saved === undefined) delete process.env.REPROMPT_CACHE_DIR;
      else process.env.REPROMPT_CACHE_DIR = saved;
    }
  });
  afterAll(async () => handlerPipeline?.release());

  test('returns the plain image and the per-token grid of its latent/4 maps laid over it', async () => {
    const job: ImagineJob = { kind: 'imagine', params, attentionMap: true };
    const result = (await handlers.imagine(context(), job)) as ImagineResult;
    const plainJob: ImagineJob = { ...job, attentionMap: false };
    const plain = (await handlers.imagine(context(), plainJob)) as ImagineResult;
    expect(plain.attentionMap).toBeUndefined();
    await expectSameImage(result.image.png, plain.image.png);

    const grid = result.attentionMap!;
    const decoded = await decodePng(grid.png);
    expect([decoded.width, decoded.height]).toEqual([grid.width, grid.height]);

    // The same grid, built here from maps accumulated by a controller of our own over the same generation.
    const { result: own, maps } = await imagineWithMaps(params, HEATMAP_LEVEL);
    const image = await decodePng(own.image.png);
    const scale = pipeline.model.vaeScaleFactor;
    const expected = await heatmapOutput(pipeline, maps, params.prompt, params.height / scale, params.width / scale, image);
    expect([grid.width, grid.height]).toEqual([expected.width, expected.height]);
    await expectSameImage(grid.png, expected.png);
  });
});
