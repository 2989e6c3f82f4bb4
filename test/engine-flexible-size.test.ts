/**
 * makeUpsamplingSizeExact: UNet exports run at latent sizes that are not multiples of 8, give bitwise the original
 * outputs at sizes that are, and resize exactly like torch's `F.interpolate(x, size, mode="nearest")` (reference
 * data in fixtures/extra/resize, see its cases.json).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { decodeModel, encodeModel, floatTensor, attrInt } from '../src/engine/graph/onnx-model.js';
import { readNpyFloat32 } from '../src/engine/npy.js';
import { createFlexibleUNetSession, makeUpsamplingSizeExact } from '../src/engine/onnx/flexible-size.js';
import { fixturePath, maxAbsDiff, sdpaUnetPath, tinyModelDir } from './helpers.js';

const { onnx } = onnxProto;
const SESSION: InferenceSession.SessionOptions = { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
/** For sessions expected to fail at run time: ORT would log the failure on stderr as well as throwing it. */
const QUIET_SESSION: InferenceSession.SessionOptions = { ...SESSION, logSeverityLevel: 4 };

const UNETS: [string, string][] = [
  ['AttnProcessor export', join(tinyModelDir, 'unet', 'model.onnx')],
  ['SDPA export', sdpaUnetPath],
];

/** CLIP's text length, which SD pipelines always pad to. */
const TOKENS = 77;

/** Deterministic UNet inputs for a batch of 2 (uncond/cond) at latent h×w. */
function unetFeeds(session: InferenceSession, h: number, w: number): Record<string, Tensor> {
  const context = session.inputMetadata.find((m) => m.name === 'encoder_hidden_states');
  const hidden = context?.isTensor ? context.shape[2] : undefined;
  if (typeof hidden !== 'number') throw new Error('encoder_hidden_states has no fixed hidden size');
  const batch = 2;
  return {
    sample: new Tensor('float32', Float32Array.from({ length: batch * 4 * h * w }, (_, i) => Math.sin(0.37 * i)), [batch, 4, h, w]),
    timestep: new Tensor('int64', BigInt64Array.from([481n]), [1]),
    encoder_hidden_states: new Tensor(
      'float32',
      Float32Array.from({ length: batch * TOKENS * hidden }, (_, i) => Math.cos(0.11 * i)),
      [batch, TOKENS, hidden],
    ),
  };
}

async function noisePrediction(session: InferenceSession, h: number, w: number): Promise<Tensor> {
  return (await session.run(unetFeeds(session, h, w))).out_sample;
}

const sameBits = (a: Tensor, b: Tensor): boolean =>
  Buffer.from((a.data as Float32Array).buffer).equals(Buffer.from((b.data as Float32Array).buffer));

const resizeNodes = (bytes: Uint8Array) => (decodeModel(bytes).graph?.node ?? []).filter((n) => n.opType === 'Resize');

describe.each(UNETS)('%s', (_label, unetPath) => {
  const originalBytes = readFileSync(unetPath);
  const patch = makeUpsamplingSizeExact(originalBytes);
  let original: InferenceSession;
  let flexible: InferenceSession;

  beforeAll(async () => {
    original = await InferenceSession.create(originalBytes, QUIET_SESSION);
    flexible = await InferenceSession.create(patch.bytes, SESSION);
  });
  afterAll(async () => {
    await original?.release();
    await flexible?.release();
  });

  test('every upsampler Resize now takes its sizes at run time, and a second patch finds nothing to do', () => {
    const before = resizeNodes(originalBytes);
    expect(before.length).toBeGreaterThan(0);
    expect(patch.patched).toBe(before.length);
    for (const node of resizeNodes(patch.bytes)) {
      expect(node.input).toHaveLength(4);
      expect(node.input?.[2]).toBe('');
    }
    const again = makeUpsamplingSizeExact(patch.bytes);
    expect(again.patched).toBe(0);
    expect(again.bytes).toBe(patch.bytes);
  });

  test.each([
    [8, 8],
    [16, 16],
    [8, 16],
  ])('at latent %i×%i (sides multiples of 8) the output is bitwise the original graph’s', async (h, w) => {
    const expected = await noisePrediction(original, h, w);
    const actual = await noisePrediction(flexible, h, w);
    expect(actual.dims).toEqual(expected.dims);
    expect(sameBits(actual, expected)).toBe(true);
  });

  test.each([
    [8, 12],
    [12, 12],
    [9, 10],
  ])('at latent %i×%i the original fails at a Concat; the patched graph gives a finite [2, 4, h, w]', async (h, w) => {
    await expect(noisePrediction(original, h, w)).rejects.toThrow(/Concat/);
    const prediction = await noisePrediction(flexible, h, w);
    expect(prediction.dims).toEqual([2, 4, h, w]);
    expect((prediction.data as Float32Array).every(Number.isFinite)).toBe(true);
  });
});

describe('a UNet whose weights live in an external-data file', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'reprompt-flexible-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** The tiny UNet re-saved like the full-size export: every tensor over 1 KB in one `model.onnx_data` file. */
  function writeWithExternalWeights(): { modelPath: string; externalCount: number } {
    const model = decodeModel(readFileSync(join(tinyModelDir, 'unet', 'model.onnx')));
    const chunks: Uint8Array[] = [];
    let offset = 0;
    let externalCount = 0;
    for (const tensor of model.graph?.initializer ?? []) {
      const raw = tensor.rawData;
      if (!raw || raw.length <= 1024) continue;
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      tensor.externalData = [
        { key: 'location', value: 'model.onnx_data' },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(raw.length) },
      ];
      tensor.rawData = new Uint8Array(0);
      chunks.push(raw);
      offset += raw.length;
      externalCount++;
    }
    writeFileSync(join(scratch, 'model.onnx_data'), Buffer.concat(chunks));
    const modelPath = join(scratch, 'model.onnx');
    writeFileSync(modelPath, encodeModel(model));
    return { modelPath, externalCount };
  }

  test('keeps its external references and opens from memory against the model’s own folder', async () => {
    const { modelPath, externalCount } = writeWithExternalWeights();
    const patched = decodeModel(makeUpsamplingSizeExact(readFileSync(modelPath)).bytes);
    const external = (patched.graph?.initializer ?? []).filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
    expect(external).toHaveLength(externalCount);

    const inline = await InferenceSession.create(join(tinyModelDir, 'unet', 'model.onnx'), SESSION);
    const flexible = await createFlexibleUNetSession(modelPath, SESSION);
    try {
      expect(sameBits(await noisePrediction(flexible, 8, 8), await noisePrediction(inline, 8, 8))).toBe(true);
      expect((await noisePrediction(flexible, 9, 10)).dims).toEqual([2, 4, 9, 10]);
    } finally {
      await inline.release();
      await flexible.release();
    }
  });

  test('a missing file, or one that is not ONNX, is a model error naming the file', async () => {
    const missing = join(scratch, 'absent', 'model.onnx');
    const notOnnx = join(scratch, 'notes.onnx');
    writeFileSync(notOnnx, 'these are not the weights you are looking for\n');
    for (const file of [missing, notOnnx]) {
      await expect(createFlexibleUNetSession(file, SESSION)).rejects.toMatchObject({
        code: 'model',
        message: expect.stringContaining(file),
      });
    }
  });
});

interface ResizeCase {
  input: string;
  size: [number, number];
  output: string;
}

const STRING = onnx.AttributeProto.AttributeType.STRING;
const INTS = onnx.AttributeProto.AttributeType.INTS;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

/**
 * An upsampler as torch exports it, in miniature: Resize(x, scales [1, 1, 2, 2]) → 3×3 identity Conv (pads 1) →
 * Concat(·, skip) along channels. The Conv copies its input exactly, so output channels [0, C) are the Resize's.
 */
function miniUpsampler(opset: number, channels: number, coordinateMode = 'asymmetric'): Uint8Array {
  const kernel = new Float32Array(channels * channels * 9);
  for (let c = 0; c < channels; c++) kernel[(c * channels + c) * 9 + 4] = 1;
  const text = (name: string, value: string) => ({ name, type: STRING, s: new TextEncoder().encode(value) });
  const ints = (name: string, values: number[]) => ({ name, type: INTS, ints: values });
  const info = (name: string, dims: (number | string)[]) => {
    const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
    return { name, type: { tensorType: { elemType: FLOAT, shape: { dim } } } };
  };
  return encodeModel(
    onnx.ModelProto.fromObject({
      irVersion: 7,
      opsetImport: [{ domain: '', version: opset }],
      graph: {
        name: 'mini_upsampler',
        input: [info('x', [1, channels, 'h', 'w']), info('skip', [1, 1, 'H', 'W'])],
        output: [info('joined', [1, channels + 1, 'H', 'W'])],
        initializer: [
          floatTensor('roi', []),
          floatTensor('scales', [1, 1, 2, 2]),
          { name: 'kernel', dataType: FLOAT, dims: [channels, channels, 3, 3], rawData: new Uint8Array(kernel.buffer) },
        ],
        node: [
          {
            name: 'resize',
            opType: 'Resize',
            input: ['x', 'roi', 'scales'],
            output: ['upsampled'],
            attribute: [text('mode', 'nearest'), text('coordinate_transformation_mode', coordinateMode), text('nearest_mode', 'floor')],
          },
          {
            name: 'conv',
            opType: 'Conv',
            input: ['upsampled', 'kernel'],
            output: ['conv'],
            attribute: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])],
          },
          { name: 'concat', opType: 'Concat', input: ['conv', 'skip'], output: ['joined'], attribute: [attrInt('axis', 1)] },
        ],
      },
    }),
  );
}

describe('resizing to the skip size matches torch’s nearest interpolation', () => {
  const { cases } = JSON.parse(readFileSync(fixturePath('extra/resize/cases.json'), 'utf8')) as { cases: ResizeCase[] };

  // Opset 12 needs an empty scales tensor next to `sizes`; from 13 on the input is left out.
  describe.each([12, 14])('opset %i', (opset) => {
    test.each(cases.map((c) => [`${c.input} → ${c.size.join('×')}`, c] as const))('%s', async (_name, c) => {
      const x = readNpyFloat32(fixturePath(`extra/resize/${c.input}`));
      const expected = readNpyFloat32(fixturePath(`extra/resize/${c.output}`));
      const channels = x.shape[1];
      const patch = makeUpsamplingSizeExact(miniUpsampler(opset, channels));
      expect(patch.patched).toBe(1);

      const session = await InferenceSession.create(patch.bytes, SESSION);
      try {
        const [height, width] = c.size;
        const { joined } = await session.run({
          x: new Tensor('float32', x.data, x.shape),
          skip: new Tensor('float32', new Float32Array(height * width), [1, 1, height, width]),
        });
        expect(joined.dims).toEqual([1, channels + 1, height, width]);
        const upsampled = (joined.data as Float32Array).subarray(0, expected.data.length);
        expect(maxAbsDiff(upsampled, expected.data)).toBe(0);
      } finally {
        await session.release();
      }
    });
  });

  test('a Resize whose rounding is not torch’s nearest (half_pixel coordinates) is left alone', () => {
    const bytes = miniUpsampler(14, 2, 'half_pixel');
    const patch = makeUpsamplingSizeExact(bytes);
    expect(patch.patched).toBe(0);
    expect(patch.bytes).toBe(bytes);
  });
});
