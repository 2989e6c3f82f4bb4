/**
 * The graph index the attention patcher searches: attention is found by the data flow around a node rather than
 * by node names (which depend on the exporter).
 */
import { GraphLinks } from '../../engine/graph/graph-links.js';
import { DataType, type ElemType, type GraphProto, attribute, intAttribute, valueInfoType } from '../../engine/graph/onnx-model.js';

/** Ops whose output has the element type of their (first typed) data input. */
const TYPE_PRESERVING = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'MatMul', 'Gemm', 'Softmax', 'Reshape', 'Transpose', 'Identity', 'Squeeze', 'Unsqueeze',
  'Slice', 'Split', 'Concat', 'Gather', 'Where', 'Sqrt', 'Reciprocal', 'Neg', 'Erf', 'Relu', 'Sigmoid', 'Tanh',
  'ReduceMean', 'InstanceNormalization', 'Conv', 'Resize', 'Pow', 'Expand', 'Tile', 'Pad',
]);

/** The engine's producer/consumer index, plus what attention finding needs: constants and element types. */
export class GraphIndex extends GraphLinks {
  private readonly declaredTypes = new Map<string, ElemType>();

  constructor(graph: GraphProto) {
    super(graph);
    for (const v of [...(graph.input ?? []), ...(graph.valueInfo ?? []), ...(graph.output ?? [])]) {
      const { elemType } = valueInfoType(v);
      if (elemType) this.declaredTypes.set(v.name ?? '', elemType);
    }
  }

  /** A graph input that is not also an initializer (old exporters list initializers as inputs). */
  override isGraphInput(tensor: string): boolean {
    return !this.initializers.has(tensor) && super.isGraphInput(tensor);
  }

  /** An initializer or the output of a Constant node: a value known before the graph runs. */
  isConstant(tensor: string): boolean {
    return this.initializers.has(tensor) || this.producers.get(tensor)?.opType === 'Constant';
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
      const known = this.initializers.get(name)?.dataType ?? this.declaredTypes.get(name);
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
