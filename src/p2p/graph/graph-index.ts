/**
 * Producer/consumer lookups over one ONNX graph, so that attention can be found by the data flow around a node
 * rather than by node names (which depend on the exporter).
 */
import { DataType, type ElemType, type GraphProto, type NodeProto, attribute, intAttribute, valueInfoType } from './onnx.js';

/** Ops whose output has the element type of their (first typed) data input. */
const TYPE_PRESERVING = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'MatMul', 'Gemm', 'Softmax', 'Reshape', 'Transpose', 'Identity', 'Squeeze', 'Unsqueeze',
  'Slice', 'Split', 'Concat', 'Gather', 'Where', 'Sqrt', 'Reciprocal', 'Neg', 'Erf', 'Relu', 'Sigmoid', 'Tanh',
  'ReduceMean', 'InstanceNormalization', 'Conv', 'Resize', 'Pow', 'Expand', 'Tile', 'Pad',
]);

export class GraphIndex {
  private readonly producers = new Map<string, NodeProto>();
  private readonly consumerLists = new Map<string, NodeProto[]>();
  private readonly initializerTypes = new Map<string, ElemType>();
  private readonly declaredTypes = new Map<string, ElemType>();

  constructor(readonly graph: GraphProto) {
    for (const node of graph.node ?? []) {
      for (const out of node.output ?? []) this.producers.set(out, node);
      for (const inp of node.input ?? []) {
        if (!inp) continue;
        const list = this.consumerLists.get(inp);
        if (list) list.push(node);
        else this.consumerLists.set(inp, [node]);
      }
    }
    for (const t of graph.initializer ?? []) this.initializerTypes.set(t.name ?? '', t.dataType ?? 0);
    for (const v of [...(graph.input ?? []), ...(graph.valueInfo ?? []), ...(graph.output ?? [])]) {
      const { elemType } = valueInfoType(v);
      if (elemType) this.declaredTypes.set(v.name ?? '', elemType);
    }
  }

  producer(tensor: string): NodeProto | undefined {
    return this.producers.get(tensor);
  }

  consumers(tensor: string): readonly NodeProto[] {
    return this.consumerLists.get(tensor) ?? [];
  }

  isGraphInput(tensor: string): boolean {
    return !this.initializerTypes.has(tensor) && (this.graph.input ?? []).some((v) => v.name === tensor);
  }

  /** An initializer or the output of a Constant node: a value known before the graph runs. */
  isConstant(tensor: string): boolean {
    return this.initializerTypes.has(tensor) || this.producers.get(tensor)?.opType === 'Constant';
  }

  /**
   * The element type of a tensor, found by walking back through ops that keep their input's type until a Cast,
   * a constant or a typed graph value says it. Exports carry no value_info, so this replaces shape inference.
   */
  elemType(tensor: string, budget = 64): ElemType | undefined {
    const queue = [tensor];
    const seen = new Set<string>();
    while (queue.length > 0 && seen.size < budget) {
      const name = queue.shift() as string;
      if (seen.has(name)) continue;
      seen.add(name);
      const known = this.initializerTypes.get(name) ?? this.declaredTypes.get(name);
      if (known) return known;
      const node = this.producers.get(name);
      if (!node) continue;
      if (node.opType === 'Cast') return intAttribute(node, 'to');
      if (node.opType === 'Constant') return attribute(node, 'value')?.t?.dataType ?? undefined;
      if (node.opType === 'ConstantOfShape') return attribute(node, 'value')?.t?.dataType ?? DataType.FLOAT;
      if (!TYPE_PRESERVING.has(node.opType ?? '')) continue;
      // Where's condition and Reshape's/Slice's shape operands say nothing about the data type.
      const dataInputs = node.opType === 'Where' ? node.input?.slice(1) : node.input;
      const firstOnly = node.opType === 'Reshape' || node.opType === 'Slice' || node.opType === 'Expand';
      for (const inp of firstOnly ? (node.input ?? []).slice(0, 1) : (dataInputs ?? [])) if (inp) queue.push(inp);
    }
    return undefined;
  }
}
