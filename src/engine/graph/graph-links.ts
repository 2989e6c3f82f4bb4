/**
 * Producer/consumer lookups over one ONNX graph, so that patches find their sites by data flow rather than by
 * node names (which depend on the exporter).
 */
import { type GraphProto, type NodeProto, type TensorProto } from './onnx-model.js';

export class GraphLinks {
  protected readonly producers = new Map<string, NodeProto>();
  private readonly consumerLists = new Map<string, NodeProto[]>();
  private readonly positions = new Map<NodeProto, number>();
  protected readonly initializers = new Map<string, TensorProto>();

  constructor(readonly graph: GraphProto) {
    (graph.node ?? []).forEach((node, position) => {
      this.positions.set(node, position);
      for (const out of node.output ?? []) this.producers.set(out, node);
      for (const inp of node.input ?? []) {
        if (!inp) continue;
        const list = this.consumerLists.get(inp);
        if (list) list.push(node);
        else this.consumerLists.set(inp, [node]);
      }
    });
    for (const t of graph.initializer ?? []) this.initializers.set(t.name ?? '', t);
  }

  producer(tensor: string): NodeProto | undefined {
    return this.producers.get(tensor);
  }

  consumers(tensor: string): readonly NodeProto[] {
    return this.consumerLists.get(tensor) ?? [];
  }

  isGraphInput(tensor: string): boolean {
    return (this.graph.input ?? []).some((v) => v.name === tensor);
  }

  isGraphOutput(tensor: string): boolean {
    return (this.graph.output ?? []).some((v) => v.name === tensor);
  }

  /** True when `tensor` exists before `node` runs in the graph's (topological) node order. */
  availableBefore(tensor: string, node: NodeProto): boolean {
    const producer = this.producers.get(tensor);
    if (!producer) return this.initializers.has(tensor) || this.isGraphInput(tensor);
    return (this.positions.get(producer) ?? Infinity) < (this.positions.get(node) ?? -Infinity);
  }

  /** The tensor behind an initializer or a Constant node's `value`; undefined when it is computed at run time. */
  constantTensor(tensor: string): TensorProto | undefined {
    const initializer = this.initializers.get(tensor);
    if (initializer) return initializer;
    const producer = this.producers.get(tensor);
    if (producer?.opType !== 'Constant') return undefined;
    return producer.attribute?.find((a) => a.name === 'value')?.t ?? undefined;
  }

  /** True when some node holds a subgraph (If, Loop, Scan), whose nodes this index does not see. */
  hasSubgraphs(): boolean {
    return (this.graph.node ?? []).some((node) => (node.attribute ?? []).some((a) => a.g || (a.graphs?.length ?? 0) > 0));
  }

  /** Every tensor and node name of the graph and its subgraphs, so that new names cannot collide. */
  allNames(): Set<string> {
    const names = new Set<string>();
    const visit = (g: GraphProto): void => {
      for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? []), ...(g.initializer ?? [])]) names.add(v.name ?? '');
      for (const node of g.node ?? []) {
        for (const name of [node.name ?? '', ...(node.input ?? []), ...(node.output ?? [])]) names.add(name);
        for (const a of node.attribute ?? []) {
          if (a.g) visit(a.g);
          for (const sub of a.graphs ?? []) visit(sub);
        }
      }
    };
    visit(this.graph);
    return names;
  }
}

/** Hands out names no tensor or node of the graph uses yet, all under one prefix. */
export class FreshNames {
  constructor(
    private readonly taken: Set<string>,
    private readonly prefix: string,
  ) {}

  next(base: string): string {
    let name = `${this.prefix}${base}`;
    for (let k = 1; this.taken.has(name); k++) name = `${this.prefix}${base}_${k}`;
    this.taken.add(name);
    return name;
  }
}
