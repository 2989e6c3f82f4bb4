/**
 * Which graph inputs of a UNet export are the latent, the timestep and the text conditioning, with the sizes a
 * probe run needs that the export may have left symbolic (latent channels, text embedding width).
 */
import { UserError } from '../../engine/errors.js';
import type { GraphIndex } from './graph-index.js';
import { DataType, type ElemType, toNumber, valueInfoType } from '../../engine/graph/onnx-model.js';

/** SD's CLIP context length, used when the export leaves the text axis symbolic. */
const DEFAULT_TEXT_LENGTH = 77;

export interface UNetIO {
  sample: { name: string; elemType: ElemType; channels: number };
  timestep: { name: string; elemType: ElemType; rank: number };
  /** encoder_hidden_states: [batch, length, width]. */
  text: { name: string; elemType: ElemType; length: number; width: number };
}

interface GraphInput {
  name: string;
  elemType: ElemType;
  dims: (number | string | undefined)[];
}

const isFloat = (t: ElemType): boolean => t === DataType.FLOAT || t === DataType.FLOAT16;

export function findUNetIO(index: GraphIndex): UNetIO {
  const inputs: GraphInput[] = (index.graph.input ?? [])
    .filter((v) => index.isGraphInput(v.name ?? ''))
    .map((v) => {
      const { elemType, dims } = valueInfoType(v);
      return { name: v.name ?? '', elemType, dims: dims ?? [] };
    });
  const taken: GraphInput[] = [];
  const pick = (name: string, fallback: (i: GraphInput) => boolean): GraphInput | undefined => {
    const found = inputs.find((i) => i.name === name) ?? inputs.find((i) => !taken.includes(i) && fallback(i));
    if (found) taken.push(found);
    return found;
  };
  const sample = pick('sample', (i) => isFloat(i.elemType) && i.dims.length === 4);
  const text = pick('encoder_hidden_states', (i) => isFloat(i.elemType) && i.dims.length === 3);
  const timestep = pick('timestep', (i) => i.dims.length <= 1);
  const found = inputs.map((i) => i.name).join(', ') || 'none';
  if (!sample || !text || !timestep) {
    throw new UserError('model', `This ONNX graph does not look like a Stable Diffusion UNet: expected the inputs sample, timestep and encoder_hidden_states, found ${found}.`);
  }
  if (inputs.length > 3) {
    throw new UserError('model', `This UNet has inputs beyond sample, timestep and encoder_hidden_states (${found}); attention editing supports SD 1.x/2.x UNets only.`);
  }
  const textLength = text.dims[1];
  return {
    sample: { name: sample.name, elemType: sample.elemType, channels: fixedOrWeightDim(index, sample, 1, 'Conv', 1) },
    timestep: { name: timestep.name, elemType: timestep.elemType, rank: timestep.dims.length },
    text: {
      name: text.name,
      elemType: text.elemType,
      length: typeof textLength === 'number' && textLength > 0 ? textLength : DEFAULT_TEXT_LENGTH,
      width: fixedOrWeightDim(index, text, 2, 'MatMul', 0),
    },
  };
}

/** A fixed dimension of an input, else the matching dimension of the first weight that consumes the input. */
function fixedOrWeightDim(index: GraphIndex, input: GraphInput, axis: number, op: string, weightAxis: number): number {
  const declared = input.dims[axis];
  if (typeof declared === 'number' && declared > 0) return declared;
  for (const node of index.consumers(input.name)) {
    if (node.opType !== op) continue;
    const weight = (index.graph.initializer ?? []).find((t) => t.name === node.input?.[1]);
    if (weight?.dims && weight.dims.length > weightAxis) return toNumber(weight.dims[weightAxis]);
  }
  throw new UserError('model', `Cannot tell the size of axis ${axis} of the UNet input ${input.name}.`);
}
