/**
 * Reading a session's input/output metadata and converting tensors. Exporters disagree on names and dtypes
 * (int32 vs int64 ids, int64 vs float timesteps, fp32 vs fp16 graphs), so every wrapper asks the metadata.
 */
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { UserError } from '../errors.js';
import { float32ToHalf, halfToFloat32 } from '../fp16.js';

export type FloatType = 'float32' | 'float16';

export interface TensorSpec {
  name: string;
  type: Tensor.Type;
  /** Fixed dims are numbers, symbolic ones strings; [] when unknown. */
  shape: readonly (number | string)[];
}

interface Lookup {
  /** The conventional (optimum) names, tried first. */
  names: readonly string[];
  /** Otherwise the first tensor the metadata describes like this. */
  like?(spec: TensorSpec): boolean;
  /** What the value is, for the error message. */
  role: string;
}

export function findInput(session: InferenceSession, file: string, lookup: Lookup): TensorSpec {
  return findValue(session.inputMetadata, file, 'input', lookup);
}

export function findOutput(session: InferenceSession, file: string, lookup: Lookup): TensorSpec {
  return findValue(session.outputMetadata, file, 'output', lookup);
}

function findValue(
  metadata: readonly InferenceSession.ValueMetadata[],
  file: string,
  kind: 'input' | 'output',
  lookup: Lookup,
): TensorSpec {
  const tensors = metadata.filter((m): m is InferenceSession.TensorValueMetadata => m.isTensor);
  const found = tensors.find((m) => lookup.names.includes(m.name)) ?? (lookup.like && tensors.find((m) => lookup.like!(m)));
  if (!found) {
    const present = metadata.map((m) => m.name).join(', ') || 'none';
    throw new UserError('model', `${file}: found no ${lookup.role} ${kind} (expected "${lookup.names[0]}"; the model has ${present}).`);
  }
  return { name: found.name, type: found.type, shape: found.shape };
}

/** The spec's dtype, which must be float32 or float16. */
export function floatType(file: string, spec: TensorSpec): FloatType {
  if (spec.type === 'float32' || spec.type === 'float16') return spec.type;
  throw unsupportedType(file, spec, 'float32 or float16');
}

export function unsupportedType(file: string, spec: TensorSpec, expected: string): UserError {
  return new UserError('model', `${file}: "${spec.name}" has type ${spec.type}, which is not supported (expected ${expected}).`);
}

/** The dim at `axis` when the model fixes it, else undefined. */
export function fixedDim(spec: TensorSpec, axis: number): number | undefined {
  const dim = spec.shape[axis];
  return typeof dim === 'number' && dim > 0 ? dim : undefined;
}

/** A float tensor in the model's dtype (float16 graphs take half bits). */
export function floatTensor(type: FloatType, data: Float32Array, dims: readonly number[]): Tensor {
  return type === 'float16' ? new Tensor('float16', float32ToHalf(data), dims) : new Tensor('float32', data, dims);
}

/** A float32 copy (or the data itself for float32) of a float32/float16 output. */
export function readFloat(tensor: Tensor, file: string, name: string): Float32Array {
  const data: unknown = tensor.data;
  if (tensor.type === 'float32') return data as Float32Array;
  if (tensor.type === 'float16') {
    // Runtimes with Float16Array hand back real numbers; older ones the raw half bits.
    return data instanceof Uint16Array ? halfToFloat32(data) : Float32Array.from(data as ArrayLike<number>);
  }
  throw new UserError('model', `${file}: output "${name}" has type ${tensor.type}, which is not supported (expected float32 or float16).`);
}
