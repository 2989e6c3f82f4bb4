/**
 * VAE encoder → posterior mean × scaling factor, against diffusers' `latent_dist.mean` on the bundled weights: the
 * bundled graph (which samples inside, so the sampling is cut out at load), a mean‖logvar export built from it,
 * the VAE round trips, and a model folder without vae_encoder/.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeModel, encodeModel, onnx, tensorValueInfo, DataType } from '../src/engine/graph/onnx-model.js';
import { encodePng } from '../src/engine/image.js';
import { sessionOptions } from '../src/engine/onnx/session.js';
import { removeSampling, VaeEncoder } from '../src/engine/onnx/vae-encoder.js';
import { preparePhoto } from '../src/engine/photo.js';
import { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import { expectLatentsClose, expectPngClose, readReference, TEST_SESSIONS, type ReferenceArray } from './engine-helpers.js';
import { maxAbs, referenceCases, referencePath, tinyModelDir } from './helpers.js';

interface VaeMeanCase {
  id: string;
  image_png: string;
  height: number;
  width: number;
  z0: ReferenceArray;
  roundtrip_png: string;
  max_abs_z0: number;
}

const cases = referenceCases<{ inversion: { vae_mean: VaeMeanCase[] } }>().inversion.vae_mean;
const bundledEncoder = join(tinyModelDir, 'vae_encoder', 'model.onnx');
const SCALING = Math.fround(0.18215);

let pipeline: StableDiffusionPipeline;
let scratch: string;
beforeAll(async () => {
  pipeline = await StableDiffusionPipeline.load(tinyModelDir, TEST_SESSIONS);
  scratch = mkdtempSync(join(tmpdir(), 'reprompt-vae-'));
});
afterAll(async () => {
  await pipeline?.release();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

async function photoPixels(c: VaeMeanCase): Promise<Float32Array> {
  const photo = await preparePhoto(readFileSync(referencePath(c.image_png)));
  expect([photo.width, photo.height]).toEqual([c.width, c.height]);
  return photo.pixels;
}

describe('the bundled encoder (samples inside its graph)', () => {
  test('the sampling subgraph is cut out: no random op is left and the output is the Add’s mean operand', () => {
    const model = decodeModel(readFileSync(bundledEncoder));
    const before = model.graph!.node!.length;
    expect(model.graph!.node!.some((n) => n.opType === 'RandomNormalLike')).toBe(true);
    expect(removeSampling(model, bundledEncoder)).toBe(true);
    const ops = model.graph!.node!.map((n) => n.opType);
    expect(ops).not.toContain('RandomNormalLike');
    expect(ops).not.toContain('Exp');
    expect(model.graph!.node!.length).toBeLessThan(before);
    const output = model.graph!.output![0].name!;
    const last = model.graph!.node!.find((n) => n.output!.includes(output))!;
    expect(last.opType).toBe('Identity');
    expect(model.graph!.node!.find((n) => n.output!.includes(last.input![0]))!.opType).toBe('Slice');
    // A graph without random ops is left alone.
    expect(removeSampling(model, bundledEncoder)).toBe(false);
  });

  test.each(cases.map((c) => [c.id, c] as const))('%s: z0 = mean × scaling factor, deterministic, and its round trip', async (_id, c) => {
    const pixels = await photoPixels(c);
    const first = await pipeline.encodeImage(pixels, c.width, c.height);
    const again = await pipeline.encodeImage(pixels, c.width, c.height);
    expect(first.shape).toEqual(c.z0.shape);
    expect(again.latents).toEqual(first.latents);
    const reference = readReference(c.z0);
    expect(maxAbs(reference)).toBeCloseTo(c.max_abs_z0, 3);
    expectLatentsClose(first.latents, reference);

    const [image] = await pipeline.decode(first.latents, first.shape);
    await expectPngClose(await encodePng(image), c.roundtrip_png);
  });
});

describe('an encoder that outputs mean‖logvar (optimum ≥ 1.23)', () => {
  let encoder: VaeEncoder;
  beforeAll(async () => {
    // Cut the bundled graph after quant_conv: its output is the moments, 2C channels, nothing random after it.
    const model = decodeModel(readFileSync(bundledEncoder));
    const graph = model.graph!;
    const quantConv = graph.node!.findIndex((n) => n.opType === 'Conv' && n.name === '/quant_conv/Conv');
    expect(quantConv).toBeGreaterThan(0);
    const moments = graph.node![quantConv].output![0];
    graph.node = [
      ...graph.node!.slice(0, quantConv + 1),
      onnx.NodeProto.create({ opType: 'Identity', name: 'moments', input: [moments], output: ['latent_parameters'] }),
    ];
    graph.output = [onnx.ValueInfoProto.create(tensorValueInfo('latent_parameters', DataType.FLOAT, ['batch', 8, 'h', 'w']))];
    const folder = join(scratch, 'moments');
    mkdirSync(folder);
    writeFileSync(join(folder, 'model.onnx'), encodeModel(model));
    encoder = await VaeEncoder.load(join(folder, 'model.onnx'), sessionOptions(TEST_SESSIONS));
  });
  afterAll(() => encoder?.release());

  test.each(cases.map((c) => [c.id, c] as const))('%s: the first C channels are the mean', async (_id, c) => {
    expect(encoder.samplingRemoved).toBe(false);
    const encoded = await encoder.encode(await photoPixels(c), [1, 3, c.height, c.width], 4);
    expect(encoded.dims).toEqual(c.z0.shape);
    expectLatentsClose(
      encoded.mean.map((x) => x * SCALING),
      readReference(c.z0),
    );
  });

  test('a channel count that is neither C nor 2C is a model error', async () => {
    const c = cases[0];
    await expect(encoder.encode(await photoPixels(c), [1, 3, c.height, c.width], 3)).rejects.toMatchObject({ code: 'model' });
  });
});

test('a model without vae_encoder/ still draws, and encoding says which folder is missing', async () => {
  const folder = join(scratch, 'no-encoder');
  mkdirSync(folder);
  for (const entry of ['model_index.json', 'scheduler', 'text_encoder', 'tokenizer', 'unet', 'vae_decoder']) {
    symlinkSync(join(tinyModelDir, entry), join(folder, entry));
  }
  const bare = await StableDiffusionPipeline.load(folder, TEST_SESSIONS);
  try {
    const params = { prompt: 'a house', negativePrompt: '', seed: '1', steps: 2, guidance: 7.5, width: 64, height: 64 };
    const drawn = await bare.imagine({ kind: 'imagine', params });
    expect(drawn.image.width).toBe(64);
    const error = await bare.encodeImage(new Float32Array(3 * 64 * 64), 64, 64).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'UserError', code: 'model' });
    expect((error as Error).message).toContain('vae_encoder');
  } finally {
    await bare.release();
  }
});
