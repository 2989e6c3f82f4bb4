/** AttentionController without a model: a replayed source trace must come from a run of the same shape. */
import { describe, expect, test } from '@jest/globals';
import type { UNetCall } from '../src/engine/controller.js';
import type { PatchedUNetMeta } from '../src/p2p/graph/contract.js';
import { LocalBlend } from '../src/p2p/blend.js';
import { AttentionController } from '../src/p2p/runtime/attention-controller.js';
import type { SourceTrace } from '../src/p2p/store.js';

const meta: PatchedUNetMeta = { version: 1, sourceSha256: 'none', textLength: 77, layers: [], floatType: 'float32' };

function trace(calls: number, latentSide: number): SourceTrace {
  return {
    prompt: 'a cat riding a bicycle',
    blendLevel: 2,
    latentHeight: latentSide,
    latentWidth: latentSide,
    perCall: Array.from({ length: calls }, () => ({ probs: [], blendMap: null, latents: new Float32Array(4 * latentSide * latentSide) })),
  };
}

const call = (count: number, latentSide: number): UNetCall => ({
  index: 0,
  count,
  timestep: 999,
  rows: 1,
  cfg: true,
  uncondRows: [0],
  batch: 2,
  latentHeight: latentSide,
  latentWidth: latentSide,
});

describe('AttentionController replay', () => {
  test('a trace of the same length and latent size is replayed', () => {
    const controller = new AttentionController({ meta, replay: trace(4, 8) });
    expect(Object.keys(controller.unetFeeds(call(4, 8)))).toContain('p2p_source_index');
  });

  test('a trace of another step count or latent size is refused, not clamped', () => {
    expect(() => new AttentionController({ meta, replay: trace(3, 8) }).unetFeeds(call(4, 8))).toThrow(/3 UNet calls .* makes 4/);
    expect(() => new AttentionController({ meta, replay: trace(4, 16) }).unetFeeds(call(4, 8))).toThrow(/16×16 latent.* at 8×8/);
  });

  test('a trace whose blend maps are at another level than LocalBlend reads is refused', () => {
    const blend = new LocalBlend([[1], [1]], meta.textLength, { level: 1, sourceInBatch: false });
    expect(() => new AttentionController({ meta, replay: trace(4, 8), blend })).toThrow(/level 2, LocalBlend reads level 1/);
  });
});
