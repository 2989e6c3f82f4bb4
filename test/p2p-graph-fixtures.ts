/** Model files built for the attention-patch tests: a UNet with external weights, synthetic non-editable UNets. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { float32ToHalf } from '../src/engine/fp16.js';
import { DataType, type DecodedGraph, type DecodedNode, type NodeProto, type TensorProto, floatTensor, onnx, tensorValueInfo } from '../src/engine/graph/onnx-model.js';

/**
 * Rewrites a model the way optimum saves large ones: every initializer over 1 KB moves to `model.onnx_data` next to
 * the graph, referenced by a relative location. Returns the path of the graph file.
 */
export function withExternalWeights(modelBytes: Uint8Array, dir: string): string {
  const model = onnx.ModelProto.decode(modelBytes);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const tensor of model.graph?.initializer ?? []) {
    const raw = tensor.rawData;
    if (!raw || raw.length <= 1024) continue;
    chunks.push(raw);
    tensor.externalData = [
      { key: 'location', value: 'model.onnx_data' },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    tensor.rawData = new Uint8Array(0);
    offset += raw.length;
  }
  writeFileSync(join(dir, 'model.onnx_data'), Buffer.concat(chunks));
  const path = join(dir, 'model.onnx');
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  return path;
}

/**
 * A UNet-shaped graph (the three UNet inputs, out_sample) whose only attention is a fused com.microsoft
 * MultiHeadAttention node, as ORT's transformers optimizer leaves it; with `fused: false`, no attention at all.
 */
export function fusedAttentionUNet({ fused }: { fused: boolean }): Uint8Array {
  const nodes: NodeProto[] = [
    { name: 'proj', opType: 'MatMul', input: ['encoder_hidden_states', 'w'], output: ['context'] },
    { name: 'out', opType: 'Identity', input: ['sample'], output: ['out_sample'] },
  ];
  if (fused) {
    nodes.push({
      name: '/down_blocks.0/attentions.0/transformer_blocks.0/attn2/MultiHeadAttention',
      opType: 'MultiHeadAttention',
      domain: 'com.microsoft',
      input: ['context', 'context', 'context'],
      output: ['attended'],
      attribute: [{ name: 'num_heads', type: onnx.AttributeProto.AttributeType.INT, i: 8 }],
    });
  }
  const graph = {
    name: 'unet',
    node: nodes,
    initializer: [floatTensor('w', new Array(32 * 32).fill(0.01), [32, 32])],
    input: [
      tensorValueInfo('sample', DataType.FLOAT, ['batch_size', 4, 'height', 'width']),
      tensorValueInfo('timestep', DataType.INT64, ['steps']),
      tensorValueInfo('encoder_hidden_states', DataType.FLOAT, ['batch_size', 'sequence_length', 32]),
    ],
    output: [tensorValueInfo('out_sample', DataType.FLOAT, ['batch_size', 4, 'height', 'width'])],
  };
  const model = {
    irVersion: 7,
    opsetImport: [{ domain: '', version: 14 }, { domain: 'com.microsoft', version: 1 }],
    graph,
  };
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(model)).finish();
}

/**
 * A float16 copy of a float32 model, the way `convert_float_to_float16(keep_io_types=False)` makes one: float
 * inputs, outputs, weights, constants and casts become float16, except the roi/scales operands of Resize, which
 * ONNX requires to stay float32.
 */
export function toFloat16(modelBytes: Uint8Array): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph as DecodedGraph;
  const nodes = graph.node as DecodedNode[];
  const keepFloat = new Set(nodes.filter((n) => n.opType === 'Resize').flatMap((n) => n.input.slice(1)).filter(Boolean));
  const toHalf = (t: TensorProto | null | undefined): void => {
    if (!t || t.dataType !== DataType.FLOAT) return;
    const raw = t.rawData?.length ? t.rawData : new Uint8Array(Float32Array.from(t.floatData ?? []).buffer);
    const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    t.rawData = new Uint8Array(float32ToHalf(values).buffer);
    t.floatData = [];
    t.dataType = DataType.FLOAT16;
  };
  graph.initializer.filter((t) => !keepFloat.has(t.name ?? '')).forEach(toHalf);
  for (const node of nodes) {
    if (keepFloat.has(node.output[0])) continue;
    if (node.opType === 'Constant' || node.opType === 'ConstantOfShape') node.attribute.forEach((a) => toHalf(a.t));
    if (node.opType === 'Cast' && Number(node.attribute[0].i) === DataType.FLOAT) node.attribute[0].i = DataType.FLOAT16;
  }
  for (const v of [...(graph.input ?? []), ...(graph.output ?? [])]) {
    const tensorType = v.type?.tensorType;
    if (tensorType?.elemType === DataType.FLOAT) tensorType.elemType = DataType.FLOAT16;
  }
  return onnx.ModelProto.encode(model).finish();
}
