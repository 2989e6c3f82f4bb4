/**
 * The project's slice of `onnx-proto` (protobufjs 6 static code for ONNX 1.10): model decoding/encoding and the
 * value conversions graph edits need (the engine's size patch and Prompt-to-Prompt's attention patch both use it).
 * Encoding a decoded model keeps the fields this schema does not know (wire.ts).
 * protobufjs decodes int64 fields as `Long` and string attributes as bytes, so every read goes through these helpers.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { concat, equalBytes, lengthDelimited, type MessageCodec, reencode, wireFields } from './wire.js';

export const onnx = onnxProto.onnx;

export type ModelProto = OnnxTypes.ModelProto;
export type GraphProto = OnnxTypes.IGraphProto;
export type NodeProto = OnnxTypes.INodeProto;
export type TensorProto = OnnxTypes.ITensorProto;
export type ValueInfoProto = OnnxTypes.IValueInfoProto;
export type AttributeProto = OnnxTypes.IAttributeProto;
/** What `decodeModel` yields: message classes, whose repeated fields are always arrays. */
export type DecodedGraph = OnnxTypes.GraphProto;
export type DecodedNode = OnnxTypes.NodeProto;

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
export type ElemType = number;

const AttributeType = onnx.AttributeProto.AttributeType;

/** `Number()` understands both protobufjs' `Long` and plain numbers. */
export const toNumber = (v: number | { toString(): string } | null | undefined): number => Number(v ?? 0);

/** Where a decoded model came from: its bytes, and the graph and graph elements as decoded (see wire.ts). */
interface Origin {
  bytes: Uint8Array;
  graph: DecodedGraph;
  elements: Record<GraphListKey, readonly unknown[]>;
}

const origins = new WeakMap<ModelProto, Origin>();

/** The graph's repeated message fields: field number, property, message codec. */
const GRAPH_LISTS = [
  [1, 'node', onnx.NodeProto],
  [5, 'initializer', onnx.TensorProto],
  [11, 'input', onnx.ValueInfoProto],
  [12, 'output', onnx.ValueInfoProto],
  [13, 'valueInfo', onnx.ValueInfoProto],
  [14, 'quantizationAnnotation', onnx.TensorAnnotation],
  [15, 'sparseInitializer', onnx.SparseTensorProto],
] as const;
type GraphListKey = (typeof GRAPH_LISTS)[number][1];
const MODEL_GRAPH_FIELD = 7;

export function decodeModel(bytes: Uint8Array): ModelProto {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph as DecodedGraph | null;
  if (graph) {
    const elements = Object.fromEntries(GRAPH_LISTS.map(([, key]) => [key, [...graph[key]]])) as Record<GraphListKey, unknown[]>;
    origins.set(model, { bytes, graph, elements });
  }
  return model;
}

/**
 * Encodes a model. One that `decodeModel` returned keeps its original bytes, unknown fields included, everywhere
 * outside the graph elements that were changed or added (wire.ts); any other model is encoded by the codec.
 */
export function encodeModel(model: ModelProto): Uint8Array {
  const origin = origins.get(model);
  if (!origin || model.graph !== origin.graph) return onnx.ModelProto.encode(model).finish();
  const graph = origin.graph;
  const fields = wireFields(origin.bytes);
  const graphField = fields.find((f) => f.number === MODEL_GRAPH_FIELD);
  if (!graphField?.payload) return onnx.ModelProto.encode(model).finish();
  const graphBytes = reencode(
    graphField.payload,
    GRAPH_LISTS.map(([number, key, codec]) => ({ number, codec: codec as MessageCodec<unknown>, current: graph[key], original: origin.elements[key] })),
    { codec: onnx.GraphProto, current: graph, without: (g) => onnx.GraphProto.create({ name: g.name, docString: g.docString }) },
  );
  const modelRest = (m: ModelProto): Uint8Array => onnx.ModelProto.encode({ ...m, graph: null }).finish();
  const originalRest = onnx.ModelProto.decode(concat(fields.filter((f) => f !== graphField).map((f) => f.bytes)));
  if (!equalBytes(modelRest(originalRest), modelRest(model))) return concat([modelRest(model), ...lengthDelimited(MODEL_GRAPH_FIELD, graphBytes)]);
  return concat(fields.flatMap((f) => (f === graphField ? lengthDelimited(MODEL_GRAPH_FIELD, graphBytes) : [f.bytes])));
}

/** The version of the default ("ai.onnx") operator set the model imports; 0 when it imports none. */
export function defaultOpset(model: ModelProto): number {
  const entry = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? toNumber(entry.version) : 0;
}

/** True when some initializer keeps its data in a file next to the model. */
export function hasExternalData(graph: GraphProto): boolean {
  return (graph.initializer ?? []).some((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
}

export function attribute(node: NodeProto, name: string): AttributeProto | undefined {
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

/** ONNX Runtime's contrib operators (MultiHeadAttention, …). */
export const MICROSOFT_DOMAIN = 'com.microsoft';

export const attrInt = (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i });
export const attrFloat = (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f });
export const attrInts = (name: string, ints: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints });
export const attrTensor = (name: string, t: TensorProto): AttributeProto => ({ name, type: AttributeType.TENSOR, t });
export const attrGraph = (name: string, g: GraphProto): AttributeProto => ({ name, type: AttributeType.GRAPH, g });

/** An int64 constant with its data in `rawData` (little-endian, which every supported host is). */
export function int64Tensor(name: string, values: readonly bigint[], dims: number[] = [values.length]): TensorProto {
  const data = BigInt64Array.from(values);
  return { name, dataType: DataType.INT64, dims, rawData: new Uint8Array(data.buffer) };
}

/** A float constant (may be empty, as Resize's `scales` must be before opset 13 when `sizes` is given). */
export function floatTensor(name: string, values: readonly number[], dims: number[] = [values.length]): TensorProto {
  const data = Float32Array.from(values);
  return { name, dataType: DataType.FLOAT, dims, rawData: new Uint8Array(data.buffer) };
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

/** A tensor ValueInfo; `dims` entries are fixed sizes (numbers) or symbolic names (strings). */
export function tensorValueInfo(name: string, elemType: ElemType, dims?: readonly (number | string)[]): ValueInfoProto {
  const shape = dims ? { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined;
  return { name, type: { tensorType: { elemType, shape } } };
}

/** The declared element type and dims of a graph input/output (dims: number, symbolic name, or undefined). */
export function valueInfoType(v: ValueInfoProto): { elemType: ElemType; dims: (number | string | undefined)[] | undefined } {
  const t = v.type?.tensorType;
  const dims = t?.shape?.dim?.map((d) => (d.dimParam ? d.dimParam : d.dimValue != null ? toNumber(d.dimValue) : undefined));
  return { elemType: t?.elemType ?? 0, dims };
}
