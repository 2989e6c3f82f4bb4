/**
 * The session wrappers on small hand-built graphs: dtypes the tiny model does not have (float16 I/O, float
 * timesteps, int64 ids), unsupported dtypes, and an injected UNet loader with an extra input and output.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { Tensor } from 'onnxruntime-node';
import { fromHalfBits, toHalfBits } from '../src/engine/fp16.js';
import { createSession, sessionOptions } from '../src/engine/onnx/session.js';
import { ClipTextEncoder } from '../src/engine/onnx/text-encoder.js';
import { UNet, type UNetLoader } from '../src/engine/onnx/unet.js';

const { onnx } = onnxProto;
const FLOAT = 1;
const INT64 = 7;
const FLOAT16 = 10;
const DOUBLE = 11;

const scratch = mkdtempSync(join(tmpdir(), 'reprompt-onnx-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

type Dim = number | string;
interface Value {
  name: string;
  type: number;
  dims: Dim[];
}
interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  to?: number;
}

/** Writes an opset-14 model with these graph inputs, outputs and nodes; returns its path. */
function writeModel(file: string, inputs: Value[], outputs: Value[], nodes: Node[], initializers: { name: string; values: bigint[] }[] = []): string {
  const valueInfo = (v: Value) => ({
    name: v.name,
    type: { tensorType: { elemType: v.type, shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: 'test',
      input: inputs.map(valueInfo),
      output: outputs.map(valueInfo),
      node: nodes.map((n, i) => ({
        name: `node${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: n.to === undefined ? [] : [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: n.to }],
      })),
      initializer: initializers.map((t) => ({
        name: t.name,
        dataType: INT64,
        dims: [t.values.length],
        rawData: new Uint8Array(BigInt64Array.from(t.values).buffer),
      })),
    },
  });
  const path = join(scratch, file);
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  return path;
}

const options = sessionOptions({ intraOpThreads: 1, interOpThreads: 1 });
const sampleDims: Dim[] = ['batch_size', 4, 'height', 'width'];
const contextDims: Dim[] = ['batch_size', 'sequence_length', 8];

describe('UNet wrapper', () => {
  test('float16 graphs take and return half bits; a float timestep is fed as a float', async () => {
    // out_sample = sample · timestep, everything float16.
    const file = writeModel(
      'unet-fp16.onnx',
      [
        { name: 'sample', type: FLOAT16, dims: sampleDims },
        { name: 'timestep', type: FLOAT16, dims: [1] },
        { name: 'encoder_hidden_states', type: FLOAT16, dims: contextDims },
      ],
      [{ name: 'out_sample', type: FLOAT16, dims: sampleDims }],
      [{ op: 'Mul', inputs: ['sample', 'timestep'], outputs: ['out_sample'] }],
    );
    const unet = await UNet.load(file, options);
    expect(unet.latentChannels).toBe(4);
    const sample = Float32Array.from({ length: 2 * 4 * 2 * 2 }, (_, i) => i / 10 - 1);
    const { noisePred } = await unet.run({
      sample,
      dims: [2, 4, 2, 2],
      timestep: 3,
      encoderHiddenStates: unet.hiddenStates(new Float32Array(2 * 5 * 8), [2, 5, 8]),
    });
    const expected = sample.map((x) => fromHalfBits(toHalfBits(fromHalfBits(toHalfBits(x)) * 3)));
    expect(Array.from(noisePred)).toEqual(Array.from(expected));
    await unet.release();
  });

  test('unsupported dtypes are model errors naming the file and the input', async () => {
    const file = writeModel(
      'unet-double-timestep.onnx',
      [
        { name: 'sample', type: FLOAT, dims: sampleDims },
        { name: 'timestep', type: DOUBLE, dims: [1] },
        { name: 'encoder_hidden_states', type: FLOAT, dims: contextDims },
      ],
      [{ name: 'out_sample', type: FLOAT, dims: sampleDims }],
      [
        { op: 'Cast', inputs: ['timestep'], outputs: ['t'], to: FLOAT },
        { op: 'Mul', inputs: ['sample', 't'], outputs: ['out_sample'] },
      ],
    );
    await expect(UNet.load(file, options)).rejects.toEqual(
      expect.objectContaining({ code: 'model', message: expect.stringMatching(/unet-double-timestep\.onnx: "timestep" has type float64, which is not supported/) }),
    );
  });

  test('a graph rejected after loading has its session released', async () => {
    const file = writeModel(
      'unet-no-context.onnx',
      [{ name: 'sample', type: FLOAT, dims: sampleDims }],
      [{ name: 'out_sample', type: FLOAT, dims: sampleDims }],
      [{ op: 'Identity', inputs: ['sample'], outputs: ['out_sample'] }],
    );
    let released = 0;
    const loader: UNetLoader = {
      async load(path, sessionOptions) {
        const session = await createSession(path, sessionOptions);
        const release = session.release.bind(session);
        session.release = async () => {
          released++;
          await release();
        };
        return { session };
      },
    };
    await expect(UNet.load(file, options, loader)).rejects.toEqual(expect.objectContaining({ code: 'model' }));
    expect(released).toBe(1);
  });

  test('an injected loader supplies the session and neutral values for extra inputs; extra outputs are fetched', async () => {
    // out_sample = sample · timestep + gain, with `gain` an extra input and `echo` an extra output.
    const file = writeModel(
      'unet-controlled.onnx',
      [
        { name: 'sample', type: FLOAT, dims: sampleDims },
        { name: 'timestep', type: INT64, dims: ['steps'] },
        { name: 'encoder_hidden_states', type: FLOAT, dims: contextDims },
        { name: 'gain', type: FLOAT, dims: [1] },
      ],
      [
        { name: 'out_sample', type: FLOAT, dims: sampleDims },
        { name: 'echo', type: FLOAT, dims: [1] },
      ],
      [
        { op: 'Cast', inputs: ['timestep'], outputs: ['t'], to: FLOAT },
        { op: 'Mul', inputs: ['sample', 't'], outputs: ['scaled'] },
        { op: 'Add', inputs: ['scaled', 'gain'], outputs: ['out_sample'] },
        { op: 'Identity', inputs: ['gain'], outputs: ['echo'] },
      ],
    );
    const neutralBatches: number[] = [];
    const loads: { path: string; threads?: number }[] = [];
    const loader: UNetLoader = {
      async load(path, sessionOptions) {
        loads.push({ path, threads: sessionOptions.intraOpNumThreads });
        return {
          session: await createSession(path, sessionOptions),
          neutralFeeds: (batch) => {
            neutralBatches.push(batch);
            return { gain: new Tensor('float32', Float32Array.from([0]), [1]) };
          },
        };
      },
    };
    const unet = await UNet.load(file, options, loader);
    expect(loads).toEqual([{ path: file, threads: 1 }]);
    const input = {
      sample: Float32Array.from({ length: 4 }, (_, i) => i + 1),
      dims: [1, 4, 1, 1] as const,
      timestep: 2,
      encoderHiddenStates: unet.hiddenStates(new Float32Array(8), [1, 1, 8]),
    };
    expect(Array.from((await unet.run(input)).noisePred)).toEqual([2, 4, 6, 8]);
    expect(Array.from((await unet.run(input)).noisePred)).toEqual([2, 4, 6, 8]);
    expect(neutralBatches).toEqual([1]); // neutral values are constant per batch size: made once

    const gain = new Tensor('float32', Float32Array.from([0.5]), [1]);
    const controlled = await unet.run({ ...input, feeds: { gain }, fetches: ['echo'] });
    expect(Array.from(controlled.noisePred)).toEqual([2.5, 4.5, 6.5, 8.5]);
    expect(Object.keys(controlled.extras)).toEqual(['echo']);
    expect(Array.from(controlled.extras.echo.data as Float32Array)).toEqual([0.5]);
    expect(neutralBatches).toEqual([1]);
    await unet.release();
  });
});

describe('text encoder wrapper', () => {
  test('feeds int64 ids when the graph asks for them', async () => {
    // last_hidden_state = float(input_ids)[..., None]
    const file = writeModel(
      'text-int64.onnx',
      [{ name: 'input_ids', type: INT64, dims: ['batch_size', 'sequence_length'] }],
      [{ name: 'last_hidden_state', type: FLOAT, dims: ['batch_size', 'sequence_length', 1] }],
      [
        { op: 'Cast', inputs: ['input_ids'], outputs: ['ids'], to: FLOAT },
        { op: 'Unsqueeze', inputs: ['ids', 'axes'], outputs: ['last_hidden_state'] },
      ],
      [{ name: 'axes', values: [2n] }],
    );
    const encoder = await ClipTextEncoder.load(file, options);
    const encoded = await encoder.encode([Int32Array.from([49406, 320, 49407]), Int32Array.from([49406, 49407, 49407])]);
    expect(encoded.dims).toEqual([2, 3, 1]);
    expect(Array.from(encoded.data)).toEqual([49406, 320, 49407, 49406, 49407, 49407]);
    await encoder.release();
  });

  test('a graph without a token-id input is a model error', async () => {
    const file = writeModel(
      'text-float-ids.onnx',
      [{ name: 'input_ids', type: FLOAT, dims: ['batch_size', 'sequence_length'] }],
      [{ name: 'last_hidden_state', type: FLOAT, dims: ['batch_size', 'sequence_length'] }],
      [{ op: 'Identity', inputs: ['input_ids'], outputs: ['last_hidden_state'] }],
    );
    await expect(ClipTextEncoder.load(file, options)).rejects.toEqual(
      expect.objectContaining({ code: 'model', message: expect.stringMatching(/text-float-ids\.onnx: "input_ids" has type float32.*expected int32 or int64/) }),
    );
  });
});
