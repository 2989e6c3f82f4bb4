/**
 * One small run of a freshly patched UNet (batch 1, a 16×16 latent, every layer captured) that measures what the
 * graph does not say statically: heads, Q and K of each attention layer. It is the authority on self vs cross
 * (K == Q → self, K == text length → cross); the structural classification must agree.
 */
import { type InferenceSession, Tensor } from 'onnxruntime-node';
import { UserError } from '../../engine/errors.js';
import { type AttentionLayer, P2P_INPUT, neutralFeedsFor, probsOutputName } from './contract.js';
import { DataType, type ElemType } from '../../engine/graph/onnx-model.js';
import type { PatchedLayer } from './patch.js';
import type { UNetIO } from './unet-inputs.js';

/** 2⁴: enough for the 3 downsamplers of SD 1.x/2.x, and cheap even for a full-size UNet. */
const PROBE_LATENT = 16;

export async function probeLayers(session: InferenceSession, io: UNetIO, layers: PatchedLayer[]): Promise<AttentionLayer[]> {
  const feeds: Record<string, Tensor> = {
    ...neutralFeedsFor(layers.length, io.text.length, 1),
    [io.sample.name]: zeros(io.sample.elemType, [1, io.sample.channels, PROBE_LATENT, PROBE_LATENT]),
    [io.timestep.name]: zeros(io.timestep.elemType, io.timestep.rank === 0 ? [] : [1]),
    [io.text.name]: zeros(io.text.elemType, [1, io.text.length, io.text.width]),
    [P2P_INPUT.captureOn]: new Tensor('bool', new Uint8Array(layers.length).fill(1), [layers.length]),
    [P2P_INPUT.captureRows]: new Tensor('int64', BigInt64Array.from([0n]), [1]),
  };
  const outputs = await session.run(feeds, layers.map((l) => probsOutputName(l.index)));
  return layers.map((layer) => {
    const [, heads, q, k] = outputs[probsOutputName(layer.index)].dims;
    const seen = k === q ? 'self' : k === io.text.length ? 'cross' : undefined;
    if (seen !== layer.kind) {
      throw new UserError(
        'model',
        `Attention layer ${layer.name} looks like ${layer.kind}-attention in the graph, but a test run gave it ` +
          `${q} queries and ${k} keys (text length ${io.text.length}); this UNet export is not supported for editing.`,
      );
    }
    const level = Math.log2((PROBE_LATENT * PROBE_LATENT) / q) / 2;
    if (!Number.isInteger(level) || level < 0) {
      throw new UserError('model', `Attention layer ${layer.name} has ${q} queries at a ${PROBE_LATENT}×${PROBE_LATENT} latent, which is no power-of-two downscaling of it.`);
    }
    return { ...layer, heads, level };
  });
}

function zeros(elemType: ElemType, dims: number[]): Tensor {
  const size = dims.reduce((a, b) => a * b, 1);
  switch (elemType) {
    case DataType.FLOAT:
      return new Tensor('float32', new Float32Array(size), dims);
    case DataType.FLOAT16:
      return new Tensor('float16', new Uint16Array(size), dims);
    case DataType.INT64:
      return new Tensor('int64', new BigInt64Array(size), dims);
    case DataType.INT32:
      return new Tensor('int32', new Int32Array(size), dims);
    default:
      throw new UserError('model', `The UNet has an input of ONNX element type ${elemType}; expected float32, float16, int64 or int32.`);
  }
}
