/**
 * Re-edits through the attention store, on the bundled model: a first edit records its source branch, a later
 * edit of the same source image replays it instead of running it, and gets the same image as an edit that
 * recomputes the source in the batch, whatever it changes (word, guidance, windows, local blend, sampler).
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import type { ImagineParams } from '../src/engine/jobs.js';
import type { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import type { PatchedUNetMeta } from '../src/p2p/graph/contract.js';
import type { EditJob, EditResult } from '../src/p2p/jobs.js';
import { runEdit, sourceTraceKey } from '../src/p2p/runtime/edit-runner.js';
import { AttentionStore, type SourceTrace } from '../src/p2p/store.js';
import { parseEdit } from '../src/p2p/edit/language.js';
import { expectLatentsClose } from './engine-helpers.js';
import { denoiseEdit, editJob, expectSamePartialMasks, latentRow, loadPatchedPipeline, smallSource } from './p2p-e2e-helpers.js';

let pipeline: StableDiffusionPipeline;
let meta: PatchedUNetMeta;

beforeAll(async () => {
  ({ pipeline, meta } = await loadPatchedPipeline());
});
afterAll(async () => pipeline?.release());

const bigStore = (): AttentionStore<SourceTrace> => new AttentionStore<SourceTrace>({ budgetBytes: 1024 ** 3 });
const edit = (job: EditJob, store?: AttentionStore<SourceTrace>): Promise<EditResult> => runEdit({ pipeline, meta, store }, job);
/** The store key of a source, as runEdit computes it. */
const keyOf = (source: ImagineParams): string => sourceTraceKey(meta, { ...source, sampler: source.sampler ?? pipeline.model.defaultSampler });

/** The same edit with the source recomputed in the batch must give the same edited latents. */
async function expectSameAsRecomputed(result: EditResult, job: EditJob): Promise<void> {
  const recomputed = await edit(job);
  expect(recomputed.reusedSource).toBe(false);
  expectLatentsClose(result.latents!.data, recomputed.latents!.data);
}

describe.each([
  ['DDIM', smallSource()],
  ['Euler ancestral', smallSource({ sampler: 'euler-a', seed: '21' })],
])('re-edits of a %s source', (_sampler, source) => {
  const store = bigStore();
  const firstJob = editJob(source, 'cat→dog');
  let first: EditResult;
  beforeAll(async () => {
    first = await edit(firstJob, store);
  });

  test('the first edit records the source trace and matches an edit without a store', async () => {
    expect(first.reusedSource).toBe(false);
    expect(store.stats().entries).toBe(1);
    expect(store.has(keyOf(source))).toBe(true);
    await expectSameAsRecomputed(first, firstJob);
  });

  test.each<[string, EditJob]>([
    ['another word', editJob(source, 'bicycle→horse')],
    ['another guidance', editJob(source, 'cat→dog', { guidance: 4 })],
    ['another cross and self window', editJob(source, 'cat→dog', { cross: [0.2, 0.6], self: 0.2 })],
    ['local blend', editJob(source, 'cat→dog', { blend: ['cat', 'dog'] })],
    ['a refinement with a re-weighting', editJob(source, 'a (fluffy:2) cat riding a red bicycle')],
  ])('%s: reuses the stored source and matches the recomputed edit', async (_what, job) => {
    const reedit = await edit(job, store);
    expect(reedit.reusedSource).toBe(true);
    expect(reedit.source).toBeUndefined(); // no source branch ran, so there is no source image to return
    await expectSameAsRecomputed(reedit, job);
    expect(store.stats().entries).toBe(1);
  });
});

describe('the attention store', () => {
  test('a re-edit runs the UNet on the edit rows only', async () => {
    const store = bigStore();
    const job = editJob(smallSource({ seed: '3' }), 'cat→dog');
    const run = jest.spyOn(pipeline.unet, 'run');
    try {
      const first = await edit(job, store);
      const firstBatches = run.mock.calls.map(([input]) => input.dims[0]);
      run.mockClear();
      const reedit = await edit(job, store);
      const reeditBatches = run.mock.calls.map(([input]) => input.dims[0]);
      // CFG doubles the prompt rows: source + edit = 4 batch rows; the edit alone = 2.
      expect(firstBatches).toEqual(Array(job.params.source.steps).fill(4));
      expect(reeditBatches).toEqual(Array(job.params.source.steps).fill(2));
      expect(reedit.timings.unetCalls).toBe(first.timings.unetCalls);
    } finally {
      run.mockRestore();
    }
  });

  test('a store too small for one trace recomputes every edit, with the same result', async () => {
    const store = new AttentionStore<SourceTrace>({ budgetBytes: 1024 });
    const job = editJob(smallSource(), 'cat→dog');
    const first = await edit(job, store);
    const second = await edit(job, store);
    expect([first.reusedSource, second.reusedSource]).toEqual([false, false]);
    expect(store.stats().entries).toBe(0);
    expectLatentsClose(second.latents!.data, first.latents!.data);
    await expectSameAsRecomputed(second, job);
  });

  test('with room for one trace, a newer source evicts the older one', async () => {
    const sourceA = smallSource({ seed: '5' });
    const sourceB = smallSource({ seed: '6' });
    // Traces of the same size and steps have the same size: measure one to size the store.
    const measuring = bigStore();
    await edit(editJob(sourceA, 'cat→dog'), measuring);
    const store = new AttentionStore<SourceTrace>({ budgetBytes: measuring.stats().bytes });

    expect((await edit(editJob(sourceA, 'cat→dog'), store)).reusedSource).toBe(false);
    expect((await edit(editJob(sourceA, 'cat→tiger'), store)).reusedSource).toBe(true);
    expect((await edit(editJob(sourceB, 'cat→dog'), store)).reusedSource).toBe(false);
    expect(store.stats()).toMatchObject({ entries: 1, evictions: 1 });
    expect([store.has(keyOf(sourceA)), store.has(keyOf(sourceB))]).toEqual([false, true]);

    const job = editJob(sourceA, 'cat→tiger');
    const again = await edit(job, store);
    expect(again.reusedSource).toBe(false); // evicted: recomputed, and recorded again
    expect([store.has(keyOf(sourceA)), store.has(keyOf(sourceB))]).toEqual([true, false]);
    await expectSameAsRecomputed(again, job);
  });

  test('a re-edit blends with the stored source maps and latents, as the recomputed edit does', async () => {
    // At 256² a 0.95 threshold gives partial masks (random weights make the attention nearly uniform, so the default
    // 0.3 passes everything): part of every step's latents then comes from the stored source.
    const source = smallSource({ width: 256, height: 256 });
    const store = bigStore();
    await edit(editJob(source, 'cat→dog'), store);
    const request = { edit: parseEdit({ source: source.prompt, edit: 'cat→dog', blend: ['cat', 'dog'] }), blend: { threshold: 0.95 } };
    const recomputed = await denoiseEdit(pipeline, meta, source, request);
    const trace = store.get(keyOf(source));
    expect(trace).toBeDefined();
    const replayed = await denoiseEdit(pipeline, meta, source, { ...request, replay: trace });
    expectSamePartialMasks(replayed.masks, recomputed.masks, source.steps);
    expectLatentsClose(latentRow(replayed, 0), latentRow(recomputed, 1));
  });
});
