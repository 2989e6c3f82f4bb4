/**
 * Helpers of the end-to-end Prompt-to-Prompt tests: the bundled model with the attention-patched UNet, small edit
 * jobs, plain generations to compare edits with, and a hand-built edit run that exposes what runEdit keeps inside
 * (every prompt row's latents, LocalBlend's masks after each step, edits the edit language refuses).
 */
import { expect } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DenoiseController } from '../src/engine/controller.js';
import type { ImagineParams } from '../src/engine/jobs.js';
import { StableDiffusionPipeline, type DenoiseResult, type PipelineOptions } from '../src/engine/pipeline.js';
import { LocalBlend, type BlendMasks, type LocalBlendOptions } from '../src/p2p/blend.js';
import { blendRowTokens, buildEditPlan } from '../src/p2p/edit/controls.js';
import type { ParsedEdit } from '../src/p2p/edit/language.js';
import type { StepWindow } from '../src/p2p/edit/schedule.js';
import type { PatchedUNetMeta } from '../src/p2p/graph/contract.js';
import { AttentionPatchLoader } from '../src/p2p/graph/loader.js';
import type { EditJob, EditParams } from '../src/p2p/jobs.js';
import { AttentionController } from '../src/p2p/runtime/attention-controller.js';
import type { SourceTrace } from '../src/p2p/store.js';
import type { Trajectory } from '../src/engine/trajectory.js';
import { decodePng, TEST_SESSIONS } from './engine-helpers.js';
import { maxAbsDiff, tinyModelDir } from './helpers.js';

export interface PatchedPipeline {
  pipeline: StableDiffusionPipeline;
  meta: PatchedUNetMeta;
  /** The folder the patched graph was cached in (a fresh temporary one). */
  cacheDir: string;
}

/** The bundled model with the attention-patched UNet, patched into a fresh temporary cache. */
export async function loadPatchedPipeline(sessions: PipelineOptions = TEST_SESSIONS): Promise<PatchedPipeline> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'reprompt-p2p-e2e-'));
  const loader = new AttentionPatchLoader({ cacheDir });
  const pipeline = await StableDiffusionPipeline.load(tinyModelDir, { ...sessions, unetLoader: loader });
  return { pipeline, meta: loader.meta!, cacheDir };
}

/** A source image small enough for a whole edit to take about a second on the bundled model. */
export function smallSource(overrides: Partial<ImagineParams> = {}): ImagineParams {
  return {
    prompt: 'a cat riding a bicycle',
    negativePrompt: '',
    seed: '8',
    steps: 6,
    guidance: 7.5,
    width: 128,
    height: 128,
    sampler: 'ddim',
    ...overrides,
  };
}

/** An edit job that returns the edited latents (and the source image, which only a recomputed source has). */
export function editJob(source: ImagineParams, edit: string, options: Omit<Partial<EditParams>, 'source' | 'edit'> = {}): EditJob {
  return { kind: 'edit', returnLatents: true, sourceImage: true, params: { source, edit, ...options } };
}

/** The final latents of a plain generation. */
export async function plainLatents(pipeline: StableDiffusionPipeline, params: ImagineParams): Promise<Float32Array> {
  const result = await pipeline.imagine({ kind: 'imagine', params, returnLatents: true });
  return result.latents!.data;
}

/** Prompt row `row` of denoised latents [rows, C, h, w]. */
export function latentRow(denoised: Pick<DenoiseResult, 'latents' | 'shape'>, row: number): Float32Array {
  const [, channels, height, width] = denoised.shape;
  const size = channels * height * width;
  return denoised.latents.subarray(row * size, (row + 1) * size);
}

/** Two of our own PNGs show the same image: the README's image tolerance (±2 levels, ≤ 1 % of pixels differ). */
export async function expectSameImage(png: Uint8Array, expected: Uint8Array): Promise<void> {
  const [a, b] = await Promise.all([decodePng(png), decodePng(expected)]);
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  expect(maxAbsDiff(a.data, b.data)).toBeLessThanOrEqual(2);
  let differing = 0;
  for (let p = 0; p < a.data.length; p += 3) {
    if (a.data[p] !== b.data[p] || a.data[p + 1] !== b.data[p + 1] || a.data[p + 2] !== b.data[p + 2]) differing++;
  }
  expect(differing / (a.width * a.height)).toBeLessThanOrEqual(0.01);
}

/**
 * LocalBlend's masks of every UNet call are partial (some latent pixels in, some out), so that both the edit and the
 * source side of step 4 are exercised, and equal the expected run's (normalised maps within 1e-5).
 */
export function expectSamePartialMasks(actual: readonly BlendMasks[], expected: readonly BlendMasks[], calls: number): void {
  expect(actual).toHaveLength(calls);
  actual.forEach((m, call) => {
    const ones = m.masks.reduce((sum, v) => sum + v, 0);
    expect(ones).toBeGreaterThan(0);
    expect(ones).toBeLessThan(m.masks.length);
    expect(m.masks).toEqual(expected[call].masks);
    expect(maxAbsDiff(m.normalized, expected[call].normalized)).toBeLessThanOrEqual(1e-5);
  });
}

export interface ControlledEdit {
  /** The parsed edit; built by hand, it may be one that the edit language refuses (the same prompt twice). */
  edit: ParsedEdit;
  cross?: StepWindow;
  self?: StepWindow;
  /** LocalBlend's options, used when the edit has blend words. */
  blend?: Omit<LocalBlendOptions, 'sourceInBatch'>;
  /** A re-edit: the source branch comes from this stored trace instead of the batch. */
  replay?: SourceTrace;
  /** The source row runs cond only and is replayed from this trajectory. */
  trajectory?: Trajectory;
}

/** Prompt rows: the source then the edit, or the edit alone (row 0) for a re-edit. */
export interface ControlledEditResult extends DenoiseResult {
  /** LocalBlend's masks after each UNet call's step (empty without blend words). */
  masks: BlendMasks[];
}

/**
 * An edit denoised as runEdit does it (the source and the edited row together, or the edited row alone replaying a
 * stored source), with the controller built here so that every row's latents and LocalBlend's per-call masks can
 * be read.
 */
export async function denoiseEdit(pipeline: StableDiffusionPipeline, meta: PatchedUNetMeta, source: ImagineParams, request: ControlledEdit): Promise<ControlledEditResult> {
  const { edit, replay, trajectory } = request;
  const plan = buildEditPlan(edit, pipeline.tokenizer, { steps: source.steps, cross: request.cross, self: request.self });
  const blendTokens = blendRowTokens(plan, pipeline.tokenizer);
  const blend = blendTokens ? new LocalBlend(blendTokens, meta.textLength, { ...request.blend, sourceInBatch: !replay }) : undefined;
  const controller = new AttentionController({ meta, plan, blend, replay, trajectory });
  const masks: BlendMasks[] = [];
  const recording: DenoiseController = {
    unetFeeds: (call) => controller.unetFeeds(call),
    unetFetches: (call) => controller.unetFetches(call),
    onUnetOutputs: (call, outputs) => controller.onUnetOutputs(call, outputs),
    afterStep: (call, latents, latentSize) => {
      const blended = controller.afterStep(call, latents, latentSize);
      if (blend?.lastMasks) masks.push(blend.lastMasks);
      return blended;
    },
  };
  const row = (prompt: string, guidance = source.guidance) => ({ prompt, negativePrompt: source.negativePrompt, guidance });
  const denoised = await pipeline.denoise({
    rows: replay ? [row(edit.target)] : [row(edit.source, trajectory ? 1 : source.guidance), row(edit.target)],
    startLatents: trajectory?.data.subarray(0, trajectory.data.length / trajectory.shape[0]),
    seed: source.seed,
    steps: source.steps,
    width: source.width,
    height: source.height,
    sampler: source.sampler,
    controller: recording,
  });
  return { ...denoised, masks };
}
