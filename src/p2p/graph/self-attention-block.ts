/**
 * The whole of one self-attention block, from its Q/K/V projections to the merged heads that its output projection
 * reads, so that the patch can compute it in ONNX Runtime's fused `com.microsoft` MultiHeadAttention whenever no
 * control reads or replaces its probabilities (control-graph.ts), and explicitly otherwise.
 *
 *   q, k, v  = the projections [B, S, C] (MatMul by a weight, or its bias Add)
 *   interior = every node computed from q, k or v that the merged output needs and nothing outside it reads
 *   merged   = [B, S, C], the input of the output projection
 *
 * Found by data flow, in both layouts the patch supports (3-D [B·H, Q, K] of the default processor, 4-D
 * [B, H, Q, K] of SDPA). A block that does not fit this shape stays explicit.
 */
import type { AttentionSite } from './find-attention.js';
import type { GraphIndex } from './graph-index.js';
import { DataType, type NodeProto, floatValues } from '../../engine/graph/onnx-model.js';

export interface SelfAttentionBlock {
  query: string;
  key: string;
  value: string;
  merged: string;
  /** The nodes the fused path replaces, in graph order (the site's value MatMul and no-op Casts among them). */
  interior: NodeProto[];
  /** The score scale when the graph stores it as a constant; undefined: 1/√head_dim, MultiHeadAttention's default. */
  scale?: number;
}

/** Ops between a projection and the QK or PV MatMul: head splitting, Kᵀ, the √scale of the SDPA pattern. */
const HEAD_OPS = new Set(['Reshape', 'Transpose', 'Mul', 'Div', 'Cast', 'Identity']);
/** Ops between the PV MatMul and the output projection: merging the heads back. */
const MERGE_OPS = new Set(['Reshape', 'Transpose', 'Cast', 'Identity']);

export function findSelfAttentionBlock(index: GraphIndex, site: AttentionSite): SelfAttentionBlock | undefined {
  if (site.kind !== 'self' || site.probsType !== DataType.FLOAT) return undefined;
  const scores = site.scores;
  const softmax = index.producer(site.probs);
  if (!softmax) return undefined;
  const query = projection(index, scores.input?.[0] ?? '');
  const key = projection(index, scores.input?.[1] ?? '');
  const value = projection(index, site.valueMatMul.input?.[1] ?? '');
  const merged = mergedOutput(index, site.valueMatMul.output?.[0] ?? '');
  if (!query || !key || !value || !merged) return undefined;
  const interior = interiorNodes(index, [query, key, value], merged);
  // The fused path must replace the scores, the probabilities and their product with V, or it saves nothing.
  if (![scores, softmax, site.valueMatMul].every((n) => interior.includes(n))) return undefined;
  return { query, key, value, merged, interior, scale: constantScale(index, scores, softmax) };
}

/** Walks back from a QK/PV operand to the projection it splits into heads. */
function projection(index: GraphIndex, tensor: string): string | undefined {
  let current = tensor;
  for (let step = 0; step < 8; step++) {
    const node = index.producer(current);
    if (!node) return undefined;
    const op = node.opType ?? '';
    const inputs = node.input ?? [];
    if ((op === 'MatMul' || op === 'Add') && inputs.some((i) => index.isConstant(i))) return current;
    if (!HEAD_OPS.has(op)) return undefined;
    // The data operand: for Reshape the first input; for a scale Mul/Div the one that is not the scale itself.
    current = op === 'Reshape' ? inputs[0] : (inputs.find((i) => i && !index.isConstant(i) && !isComputedScalar(index, i)) ?? '');
  }
  return undefined;
}

/** The √scale of the SDPA pattern: computed from a Shape through Cast/Sqrt/Reciprocal/Mul, never from data. */
function isComputedScalar(index: GraphIndex, tensor: string): boolean {
  const op = index.producer(tensor)?.opType;
  return op === 'Sqrt' || op === 'Reciprocal';
}

/** Forward from the PV MatMul through head merging to the input of the output projection. */
function mergedOutput(index: GraphIndex, tensor: string): string | undefined {
  let current = tensor;
  for (let step = 0; step < 6; step++) {
    // Shape ops read the tensor for the head-merging reshape targets; the data goes on through one consumer.
    const consumers = index.consumers(current).filter((n) => n.opType !== 'Shape');
    if (consumers.length !== 1 || index.isGraphOutput(current)) return undefined;
    const next = consumers[0];
    const op = next.opType ?? '';
    if ((op === 'MatMul' || op === 'Gemm') && next.input?.[0] === current && index.isConstant(next.input?.[1] ?? '')) {
      return step > 0 ? current : undefined;
    }
    if (!MERGE_OPS.has(op) || next.input?.[0] !== current) return undefined;
    current = next.output?.[0] ?? '';
  }
  return undefined;
}

/**
 * Nodes that depend on q, k or v and that `merged` depends on, less those whose outputs are also read elsewhere
 * (they stay in the main graph, where both paths can read them).
 */
function interiorNodes(index: GraphIndex, sources: string[], merged: string): NodeProto[] {
  const downstream = new Set<NodeProto>();
  const queue = [...sources];
  while (queue.length > 0) {
    for (const node of index.consumers(queue.pop() as string)) {
      if (downstream.has(node)) continue;
      downstream.add(node);
      queue.push(...(node.output ?? []));
    }
  }
  const inside = new Set<NodeProto>();
  const back = [merged];
  while (back.length > 0) {
    const node = index.producer(back.pop() as string);
    if (!node || inside.has(node) || !downstream.has(node)) continue;
    inside.add(node);
    back.push(...(node.input ?? []).filter((i) => i && !sources.includes(i)));
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (const node of inside) {
      const readOutside = (node.output ?? []).some(
        (out) => out !== merged && (index.isGraphOutput(out) || index.consumers(out).some((c) => !inside.has(c))),
      );
      if (readOutside) {
        inside.delete(node);
        changed = true;
      }
    }
  }
  return (index.graph.node ?? []).filter((n) => inside.has(n));
}

/** A scalar constant multiplying (or dividing) the scores between the QK MatMul and the Softmax. */
function constantScale(index: GraphIndex, scores: NodeProto, softmax: NodeProto): number | undefined {
  let tensor = scores.output?.[0] ?? '';
  let scale: number | undefined;
  for (let step = 0; step < 4 && tensor !== softmax.input?.[0]; step++) {
    const consumers = index.consumers(tensor);
    if (consumers.length !== 1) return undefined;
    const node = consumers[0];
    if (node.opType === 'Mul' || node.opType === 'Div') {
      const constant = (node.input ?? []).find((i) => i !== tensor && index.isConstant(i));
      const values = constant ? floatValues(index.constantTensor(constant) ?? {}) : undefined;
      if (values?.length === 1) scale = node.opType === 'Mul' ? values[0] : 1 / values[0];
    }
    tensor = node.output?.[0] ?? '';
  }
  return scale;
}
