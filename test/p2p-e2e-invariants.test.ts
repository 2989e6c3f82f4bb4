/**
 * The implementation invariants of Prompt-to-Prompt (shared/docs/p2p-algorithm.md §11) on the real patched UNet
 * of the bundled model, at a small size: the source row is a plain generation, edits that change nothing are
 * fixed points, zero windows are no-ops, LocalBlend's all-pass and all-block extremes, PNDM's extra UNet call,
 * negative guidance, and the user errors of an edit that names words the prompt lacks.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ImagineParams, StepProgress } from '../src/engine/jobs.js';
import type { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import { parseEdit, type ParsedEdit } from '../src/p2p/edit/language.js';
import type { PatchedUNetMeta } from '../src/p2p/graph/contract.js';
import type { EditJob, EditResult } from '../src/p2p/jobs.js';
import { runEdit } from '../src/p2p/runtime/edit-runner.js';
import { expectLatentsClose } from './engine-helpers.js';
import { maxAbs, maxAbsDiff } from './helpers.js';
import { denoiseEdit, editJob, expectSameImage, latentRow, loadPatchedPipeline, plainLatents, smallSource } from './p2p-e2e-helpers.js';

let pipeline: StableDiffusionPipeline;
let meta: PatchedUNetMeta;

beforeAll(async () => {
  ({ pipeline, meta } = await loadPatchedPipeline());
});
afterAll(async () => pipeline?.release());

const source = smallSource();
const edit = (job: EditJob, onProgress?: (p: StepProgress) => void): Promise<EditResult> => runEdit({ pipeline, meta, onProgress }, job);
const plainOf = (overrides: Partial<ImagineParams>): Promise<Float32Array> => plainLatents(pipeline, { ...source, ...overrides });
const parsed = (text: string, blend?: string[]): ParsedEdit => parseEdit({ source: source.prompt, edit: text, blend });

/** Far apart: more than the latent tolerance, so that the "≈" checks of this file can tell the cases apart. */
function expectDifferent(a: Float32Array, b: Float32Array): void {
  expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4 * maxAbs(b));
}

describe('#1 the source row is a plain generation of the source prompt', () => {
  test('its latents, in the edit batch', async () => {
    const denoised = await denoiseEdit(pipeline, meta, source, { edit: parsed('cat→dog') });
    expectLatentsClose(latentRow(denoised, 0), await plainOf({}));
  });

  test('its image, as runEdit returns it', async () => {
    const result = await edit(editJob(source, 'cat→dog'));
    const plain = await pipeline.imagine({ kind: 'imagine', params: source });
    await expectSameImage(result.source!.png, plain.image.png);
  });
});

describe('#2 identical prompts are a fixed point', () => {
  test('the edit language refuses an edit that changes nothing', async () => {
    await expect(edit(editJob(source, 'cat→cat'))).rejects.toMatchObject({ name: 'UserError', code: 'bad_prompt' });
  });

  // Built by hand, below the edit language: the same prompt as a swap (identity mapper) and as a refinement
  // (identity alignment), with the widest windows.
  test.each(['replace', 'refine'] as const)('%s with the prompt itself: edit row ≈ source row', async (mode) => {
    const same: ParsedEdit = { source: source.prompt, target: source.prompt, mode, weights: [] };
    const denoised = await denoiseEdit(pipeline, meta, source, { edit: same, cross: 1, self: 1 });
    expectLatentsClose(latentRow(denoised, 1), latentRow(denoised, 0));
  });
});

describe('#3 and #13 zero windows are a no-op: the edit is a plain generation of the target prompt', () => {
  test.each([
    ['a swap', 'cat→dog', 'a dog riding a bicycle'],
    ['a refinement', 'a fluffy cat riding a red bicycle', 'a fluffy cat riding a red bicycle'],
    ['a re-weighting (#13)', '(cat:4)', source.prompt],
  ])('%s', async (_what, text, target) => {
    const noop = await edit(editJob(source, text, { cross: 0, self: 0 }));
    const plain = await plainOf({ prompt: target });
    expectLatentsClose(noop.latents!.data, plain);
    // With its default windows the same edit does change the image.
    expectDifferent((await edit(editJob(source, text))).latents!.data, plain);
  });
});

test('#11 a re-weighting by 1 leaves the source image', async () => {
  const result = await edit(editJob(source, '', { weights: [{ word: 'cat', weight: 1 }] }));
  expect(result.mode).toBe('reweight');
  expectLatentsClose(result.latents!.data, await plainOf({}));
});

describe('#20 and #21 LocalBlend', () => {
  const swap = parsed('cat→dog', ['cat', 'dog']);

  test('near-uniform attention (random weights) makes the default mask all ones: the same edit as without blend', async () => {
    const blended = await denoiseEdit(pipeline, meta, source, { edit: swap });
    expect(blended.masks).toHaveLength(source.steps);
    for (const { masks } of blended.masks) expect(masks.every((m) => m === 1)).toBe(true);
    const unblended = await edit(editJob(source, 'cat→dog'));
    expectLatentsClose(latentRow(blended, 1), unblended.latents!.data);
    // And through runEdit, with the blend words as an option.
    expectLatentsClose((await edit(editJob(source, 'cat→dog', { blend: ['cat', 'dog'] }))).latents!.data, unblended.latents!.data);
  });

  test('a threshold below 0 passes everything: the same edit as without blend', async () => {
    const blended = await denoiseEdit(pipeline, meta, source, { edit: swap, blend: { threshold: -1 } });
    const unblended = await denoiseEdit(pipeline, meta, source, { edit: parsed('cat→dog') });
    expect(maxAbsDiff(latentRow(blended, 1), latentRow(unblended, 1))).toBe(0);
  });

  test('a threshold of 1 blocks everything: the edit row is the source row', async () => {
    const blocked = await denoiseEdit(pipeline, meta, source, { edit: swap, blend: { threshold: 1 } });
    for (const { masks } of blocked.masks) expect(masks.every((m) => m === 0)).toBe(true);
    expect(maxAbsDiff(latentRow(blocked, 1), latentRow(blocked, 0))).toBe(0);
  });
});

describe('samplers and guidance', () => {
  test('a 20-step PNDM edit makes 21 UNet calls (progress counts the 20 steps), and its windows count UNet calls', async () => {
    const pndm = smallSource({ sampler: 'pndm', steps: 20, width: 64, height: 64 });
    const events: StepProgress[] = [];
    const result = await edit(editJob(pndm, 'cat→dog'), (p) => events.push(p));
    expect(result.timings.unetCalls).toBe(21);
    // Progress counts the user's steps: PNDM's doubled first step reports once.
    expect(events.map((e) => [e.step, e.total])).toEqual(Array.from({ length: 20 }, (_, i) => [i + 1, 20]));
    // Full windows on the 21st call too: nothing falls out of the schedule's range.
    const full = await edit(editJob(pndm, 'cat→dog', { cross: 1, self: 1 }));
    expect(full.latents!.data.every(Number.isFinite)).toBe(true);
    const noop = await edit(editJob(pndm, 'cat→dog', { cross: 0, self: 0 }));
    expectLatentsClose(noop.latents!.data, await plainLatents(pipeline, { ...pndm, prompt: 'a dog riding a bicycle' }));
  });

  test('a negative edit guidance is applied to the edit row only', async () => {
    const negative = await edit(editJob(source, 'cat→dog', { guidance: -3, cross: 0, self: 0 }));
    expectLatentsClose(negative.latents!.data, await plainOf({ prompt: 'a dog riding a bicycle', guidance: -3 }));
    // The source branch keeps its own guidance.
    const withWindows = await edit(editJob(source, 'cat→dog', { guidance: -3 }));
    const plainSource = await pipeline.imagine({ kind: 'imagine', params: source });
    await expectSameImage(withWindows.source!.png, plainSource.image.png);
    expectDifferent(withWindows.latents!.data, (await edit(editJob(source, 'cat→dog'))).latents!.data);
  });
});

test.each<[string, EditJob]>([
  ['a swapped word', editJob(source, 'horse→dog')],
  ['a weighted word', editJob(source, '', { weights: [{ word: 'horse', weight: 2 }] })],
  ['a blend word', editJob(source, 'cat→dog', { blend: ['horse'] })],
])('%s that is not in the prompt is a bad_prompt user error', async (_what, job) => {
  await expect(edit(job)).rejects.toMatchObject({ name: 'UserError', code: 'bad_prompt' });
});
