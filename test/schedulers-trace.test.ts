/** Step math against diffusers 0.25.1: cases.json's 20-step traces (`<key>_trace_n20_x.npy`) for all eight samplers. */
import { describe, expect, test } from '@jest/globals';
import { createScheduler } from '../src/engine/schedulers/index.js';
import { maxAbs, maxAbsDiff } from './helpers.js';
import { REFERENCE_SAMPLERS, modelSchedulerConfig, referenceFloat32, referenceScheduler, runTrace } from './schedulers-reference.js';

/** The README's tolerance for scheduler traces: max abs ≤ 5e-6·max|ref|. */
const TRACE_TOLERANCE = 5e-6;

describe.each(Object.entries(REFERENCE_SAMPLERS))('%s trace', (key, sampler) => {
  test('every step matches the reference', () => {
    const { trace } = referenceScheduler(key);
    const reference = referenceFloat32(trace.x_after_each_step);
    const ours = runTrace(createScheduler(modelSchedulerConfig(), sampler), trace.n);
    expect(ours).toHaveLength(trace.num_calls);
    const stepSize = reference.length / trace.num_calls;
    const limit = TRACE_TOLERANCE * maxAbs(reference);
    ours.forEach((x, i) => {
      const diff = maxAbsDiff(x, reference.subarray(i * stepSize, (i + 1) * stepSize));
      if (diff > limit) throw new Error(`${key} step ${i}: max abs diff ${diff} > ${limit}`);
    });
  });
});
