/**
 * Appends ONNX nodes with fresh tensor names, hiding the operator-set differences that matter here
 * (Unsqueeze axes and ReduceMean axes moved from attributes to inputs in opsets 13 and 18).
 */
import {
  type AttributeProto,
  type ElemType,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  DataType,
  attrGraph,
  attrInt,
  attrInts,
  attrTensor,
  int64Tensor,
  tensorValueInfo,
} from '../../engine/graph/onnx-model.js';

/** Names and constants shared by every builder of one model (the main graph and its If branches). */
export class ModelNames {
  private readonly taken: Set<string>;
  private readonly constants = new Map<string, string>();
  /** Constant initializers to add to the main graph (visible to subgraphs as outer-scope values). */
  readonly initializers: TensorProto[] = [];

  constructor(
    existing: Iterable<string>,
    readonly opset: number,
    private readonly prefix = 'p2p/',
  ) {
    this.taken = new Set(existing);
  }

  /** Claims an exact name (a contract input or output); false when the graph already uses it. */
  claim(name: string): boolean {
    if (this.taken.has(name)) return false;
    this.taken.add(name);
    return true;
  }

  fresh(base: string): string {
    let name = `${this.prefix}${base}`;
    for (let k = 1; this.taken.has(name); k++) name = `${this.prefix}${base}_${k}`;
    this.taken.add(name);
    return name;
  }

  /** An int64 1-D constant, shared by every use of the same values. */
  int64(values: readonly bigint[]): string {
    const key = values.join(',');
    let name = this.constants.get(key);
    if (!name) {
      name = this.fresh(`const_i64_${key.replace(/-/g, 'm').replace(/,/g, '_')}`);
      this.constants.set(key, name);
      this.initializers.push(int64Tensor(name, values));
    }
    return name;
  }
}

/** Largest int64: "to the end" for Slice. */
const INT64_MAX = 2n ** 63n - 1n;

export class NodeBuilder {
  readonly nodes: NodeProto[] = [];

  constructor(
    readonly names: ModelNames,
    private readonly scope: string,
  ) {}

  /** One node; `domain` for operators outside the default set (its import is the caller's to add). */
  op(opType: string, inputs: string[], attribute: AttributeProto[] = [], output?: string, domain?: string): string {
    const out = output ?? this.names.fresh(`${this.scope}/${opType}`);
    const node: NodeProto = { name: this.names.fresh(`${this.scope}/${opType}_node`), opType, input: inputs, output: [out], attribute };
    if (domain) node.domain = domain;
    this.nodes.push(node);
    return out;
  }

  shape(x: string): string {
    return this.op('Shape', [x]);
  }

  /** x[start:] along axis 0 of a 1-D tensor (a shape). */
  sliceFrom(x: string, start: number): string {
    return this.op('Slice', [x, this.names.int64([BigInt(start)]), this.names.int64([INT64_MAX]), this.names.int64([0n])]);
  }

  concat(inputs: string[], axis: number): string {
    return this.op('Concat', inputs, [attrInt('axis', axis)]);
  }

  reshape(x: string, shape: string, output?: string): string {
    return this.op('Reshape', [x, shape], [], output);
  }

  gather(x: string, indices: string, axis: number): string {
    return this.op('Gather', [x, indices], [attrInt('axis', axis)]);
  }

  unsqueeze(x: string, axes: number[]): string {
    if (this.names.opset >= 13) return this.op('Unsqueeze', [x, this.names.int64(axes.map(BigInt))]);
    return this.op('Unsqueeze', [x], [attrInts('axes', axes)]);
  }

  reduceMean(x: string, axes: number[], output?: string): string {
    if (this.names.opset >= 18) return this.op('ReduceMean', [x, this.names.int64(axes.map(BigInt))], [attrInt('keepdims', 0)], output);
    return this.op('ReduceMean', [x], [attrInts('axes', axes), attrInt('keepdims', 0)], output);
  }

  cast(x: string, to: ElemType, output?: string): string {
    return this.op('Cast', [x], [attrInt('to', to)], output);
  }

  /** A tensor of zeros of the given element type and runtime shape. */
  zeros(shape: string, elemType: ElemType, output?: string): string {
    const value = { dataType: elemType, dims: [1], rawData: new Uint8Array(elemType === DataType.FLOAT16 ? 2 : 4) };
    return this.op('ConstantOfShape', [shape], [attrTensor('value', value)], output);
  }

  /**
   * If(cond) with typed outputs. Each branch gets its own builder and returns the tensors it yields, in output
   * order; branches may read any tensor of the enclosing graphs.
   */
  ifElse(cond: string, outputs: IfOutput[], thenBranch: (b: NodeBuilder) => string[], elseBranch: (b: NodeBuilder) => string[]): string[] {
    const branch = (label: string, body: (b: NodeBuilder) => string[]): GraphProto => {
      const b = new NodeBuilder(this.names, `${this.scope}/${label}`);
      const results = body(b);
      return {
        name: this.names.fresh(`${this.scope}/${label}_graph`),
        node: b.nodes,
        output: results.map((r, k) => tensorValueInfo(r, outputs[k].elemType)),
      };
    };
    const names = outputs.map((o) => o.name ?? this.names.fresh(`${this.scope}/If`));
    this.nodes.push({
      name: this.names.fresh(`${this.scope}/If_node`),
      opType: 'If',
      input: [cond],
      output: names,
      attribute: [attrGraph('then_branch', branch('then', thenBranch)), attrGraph('else_branch', branch('else', elseBranch))],
    });
    return names;
  }
}

export interface IfOutput {
  elemType: ElemType;
  /** An exact output name (e.g. a graph output); a fresh one otherwise. */
  name?: string;
}
