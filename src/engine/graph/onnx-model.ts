/**
 * The engine's slice of `onnx-proto` (protobufjs 6 static code for ONNX 1.10): model decoding/encoding and the
 * value conversions graph edits need. protobufjs decodes int64 fields as `Long` and string attributes as bytes,
 * so every read goes through these helpers.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const onnx = onnxProto.onnx;

export type ModelProto = OnnxTypes.ModelProto;
export type GraphProto = OnnxTypes.IGraphProto;
export type NodeProto = OnnxTypes.INodeProto;
export type TensorProto = OnnxTypes.ITensorProto;
export type AttributeProto = OnnxTypes.IAttributeProto;

const DataType = onnx.TensorProto.DataType;
const AttributeType = onnx.AttributeProto.AttributeType;

/** `Number()` understands both protobufjs' `Long` and plain numbers. */
const toNumber = (v: number | { toString(): string } | null | undefined): number => Number(v ?? 0);

export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(bytes);
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** The version of the default ("ai.onnx") operator set the model imports; 0 when it imports none. */
export function defaultOpset(model: ModelProto): number {
  const entry = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? toNumber(entry.version) : 0;
}

function attribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

export function intAttribute(node: NodeProto, name: string): number | undefined {
  const a = attribute(node, name);
  return a ? toNumber(a.i) : undefined;
}

export function intsAttribute(node: NodeProto, name: string): number[] | undefined {
  return attribute(node, name)?.ints?.map(toNumber);
}

export function stringAttribute(node: NodeProto, name: string): string | undefined {
  const bytes = attribute(node, name)?.s;
  return bytes ? new TextDecoder().decode(bytes) : undefined;
}

export function intAttr(name: string, i: number): AttributeProto {
  return { name, type: AttributeType.INT, i };
}

/** A 1-D int64 constant with its data in `rawData` (little-endian, which every supported host is). */
export function int64Tensor(name: string, values: readonly bigint[]): TensorProto {
  const data = BigInt64Array.from(values);
  return { name, dataType: DataType.INT64, dims: [values.length], rawData: new Uint8Array(data.buffer) };
}

/** A 1-D float constant (may be empty, as Resize's `scales` must be before opset 13 when `sizes` is given). */
export function floatTensor(name: string, values: readonly number[]): TensorProto {
  const data = Float32Array.from(values);
  return { name, dataType: DataType.FLOAT, dims: [values.length], rawData: new Uint8Array(data.buffer) };
}

/** The values of a float32 tensor stored in the graph (raw bytes or `floatData`); undefined for other types. */
export function floatValues(tensor: TensorProto): number[] | undefined {
  if (tensor.dataType !== DataType.FLOAT || tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
  const raw = tensor.rawData;
  if (raw && raw.length > 0) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    return Array.from({ length: raw.byteLength / 4 }, (_, k) => view.getFloat32(4 * k, true));
  }
  return tensor.floatData ?? [];
}
