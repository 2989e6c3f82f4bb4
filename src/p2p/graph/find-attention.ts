/**
 * Finds the attention probabilities of a diffusers-structured UNet export by data flow:
 *   QK MatMul → (scale Mul / zero Add …) → Softmax → (no-op Cast) → MatMul with V.
 * Node names are used only for the block placement, and only when they carry torch module scopes.
 */
import { UserError } from '../../engine/errors.js';
import type { GraphIndex } from './graph-index.js';
import { type ElemType, type NodeProto, intAttribute, intsAttribute, toNumber } from '../../engine/graph/onnx-model.js';

export type AttentionKind = 'self' | 'cross';
export type AttentionPlace = 'down' | 'mid' | 'up';
export type AttentionLayout = '3d' | '4d';

export interface AttentionSite {
  index: number;
  name: string;
  kind: AttentionKind;
  place: AttentionPlace;
  block: number;
  layout: AttentionLayout;
  /** The probabilities the V MatMul reads: the Softmax output, or the output of a type-changing Cast after it. */
  probs: string;
  probsType: ElemType;
  /** MatMul(Q, Kᵀ) whose (scaled) output the Softmax normalises. */
  scores: NodeProto;
  /** MatMul(probs, V): the patch replaces this node. */
  valueMatMul: NodeProto;
  /** No-op Casts between the Softmax and valueMatMul: the patch removes them. */
  noOps: NodeProto[];
}

/** Ops that compute attention inside one node; their probabilities cannot be read or replaced. */
const FUSED_ATTENTION_OPS = new Set([
  'Attention', 'MultiHeadAttention', 'PackedAttention', 'PackedMultiHeadAttention', 'GroupQueryAttention',
  'DecoderMaskedMultiHeadAttention', 'DecoderMaskedSelfAttention',
]);

const UNFUSED_EXPORT_HINT =
  'Attention editing needs an un-optimised export: run `optimum-cli export onnx --model <model id> <folder>` or ' +
  "diffusers' convert_stable_diffusion_checkpoint_to_onnx.py, without ONNX Runtime's transformers optimizer or Olive.";

/** Between the QK MatMul and the Softmax: the scale, an additive mask or zero bias, a dtype cast. */
const SCORE_OPS = new Set(['Mul', 'Div', 'Add', 'Sub', 'Cast', 'Where', 'Identity']);
/** Between a K projection and the QK MatMul: head splitting, Kᵀ, the √scale of the SDPA pattern. */
const KEY_PATH_OPS = new Set(['Reshape', 'Transpose', 'Mul', 'Div', 'MatMul', 'Gemm', 'Add', 'Cast', 'Identity', 'Unsqueeze', 'Squeeze', 'Split', 'Slice']);
const KEY_PATH_DEPTH = 10;

function assertUnfusedAttention(index: GraphIndex): void {
  const fused = (index.graph.node ?? []).find((n) => FUSED_ATTENTION_OPS.has(n.opType ?? ''));
  if (fused) {
    const op = fused.domain ? `${fused.domain} ${fused.opType}` : fused.opType;
    throw new UserError('model', `This UNet computes attention in fused ${op} nodes, so its attention maps cannot be edited. ${UNFUSED_EXPORT_HINT}`);
  }
}

/** Every attention Softmax of the UNet in graph order, classified and placed. */
export function findAttentionSites(index: GraphIndex, textInput: string): AttentionSite[] {
  assertUnfusedAttention(index);
  const sites: AttentionSite[] = [];
  const { positions, maxDownsamples } = resolutionCounters(index);
  for (const node of index.graph.node ?? []) {
    if (node.opType !== 'Softmax') continue;
    const hook = valueMatMulInput(index, node);
    const qk = scoreMatMul(index, node);
    if (!hook || !qk) continue;
    const rank = operandRank(index, qk.input?.[1] ?? '') ?? operandRank(index, qk.input?.[0] ?? '');
    if (rank !== 3 && rank !== 4) {
      throw new UserError('model', `Cannot tell the tensor layout of the attention at ${describe(node)}. ${UNFUSED_EXPORT_HINT}`);
    }
    const axis = intAttribute(node, 'axis') ?? -1;
    if (axis !== -1 && axis !== rank - 1) continue;
    const probsType = index.elemType(hook.tensor);
    if (!probsType) throw new UserError('model', `Cannot tell the data type of the attention at ${describe(node)}.`);
    const position = positions.get(node) ?? { downsamples: 0, upsamples: 0 };
    const { place, block } = placeFromScope(node.name ?? '') ?? placeFromResolution(position, maxDownsamples);
    sites.push({
      index: sites.length,
      name: describe(node),
      kind: leadsToInput(index, qk.input?.[1] ?? '', textInput, KEY_PATH_DEPTH) ? 'cross' : 'self',
      place,
      block,
      layout: rank === 3 ? '3d' : '4d',
      probs: hook.tensor,
      probsType,
      scores: qk,
      valueMatMul: hook.matmul,
      noOps: hook.noOps,
    });
  }
  if (sites.length === 0) {
    throw new UserError('model', `No attention Softmax was found in this UNet, so its attention cannot be edited. ${UNFUSED_EXPORT_HINT}`);
  }
  if (!sites.some((s) => s.kind === 'cross')) {
    throw new UserError('model', 'No cross-attention on the text input was found in this UNet, so prompt edits cannot steer it.');
  }
  return sites;
}

const describe = (node: NodeProto): string => node.name || node.output?.[0] || 'Softmax';

interface ValueMatMulInput {
  /** The probabilities the patch reads: after the Cast/Identity chain, or the Softmax output when it is a no-op. */
  tensor: string;
  matmul: NodeProto;
  /** No-op Casts/Identities between Softmax and MatMul, which the patch drops. */
  noOps: NodeProto[];
}

/**
 * Softmax → Cast/Identity chain → input 0 of a MatMul (the probabilities times V). A chain that keeps the type (the
 * default export's `attention_probs.to(dtype)`) is skipped: ORT removes such a Cast from an unpatched graph, but
 * not once its output also feeds an If branch, where it would copy the probabilities every call.
 */
function valueMatMulInput(index: GraphIndex, softmax: NodeProto): ValueMatMulInput | undefined {
  const softmaxOut = softmax.output?.[0] ?? '';
  const softmaxType = index.elemType(softmaxOut);
  const chain: NodeProto[] = [];
  let tensor = softmaxOut;
  for (let step = 0; step < 4; step++) {
    const consumers = index.consumers(tensor);
    if (consumers.length !== 1) return undefined;
    const next = consumers[0];
    if (next.opType === 'MatMul') {
      if (next.input?.[0] !== tensor) return undefined;
      const noOp = chain.every((n) => n.opType === 'Identity' || intAttribute(n, 'to') === softmaxType);
      return noOp ? { tensor: softmaxOut, matmul: next, noOps: chain } : { tensor, matmul: next, noOps: [] };
    }
    if (next.opType !== 'Cast' && next.opType !== 'Identity') return undefined;
    chain.push(next);
    tensor = next.output?.[0] ?? '';
  }
  return undefined;
}

/** The MatMul of two computed operands (Q·Kᵀ) that the Softmax input comes from, through scale/mask ops. */
function scoreMatMul(index: GraphIndex, softmax: NodeProto): NodeProto | undefined {
  let frontier = [softmax.input?.[0] ?? ''];
  for (let depth = 0; depth < 4 && frontier.length > 0; depth++) {
    const next: string[] = [];
    for (const tensor of frontier) {
      const node = index.producer(tensor);
      if (!node) continue;
      if (node.opType === 'MatMul' && (node.input ?? []).every((i) => !index.isConstant(i))) return node;
      if (SCORE_OPS.has(node.opType ?? '')) next.push(...(node.input ?? []).filter((i) => i && !index.isConstant(i)));
    }
    frontier = next;
  }
  return undefined;
}

/** Rank of a QK operand: the perm of the head-splitting Transpose, or the target of its Reshape. */
function operandRank(index: GraphIndex, tensor: string): number | undefined {
  let current = tensor;
  for (let step = 0; step < 4; step++) {
    const node = index.producer(current);
    if (!node) return undefined;
    if (node.opType === 'Transpose') return intsAttribute(node, 'perm')?.length;
    if (node.opType === 'Reshape') {
      const shape = node.input?.[1] ?? '';
      const target = index.producer(shape);
      if (target?.opType === 'Concat') return target.input?.length;
      const init = (index.graph.initializer ?? []).find((t) => t.name === shape);
      return init?.dims?.length === 1 ? toNumber(init.dims[0]) : undefined;
    }
    if (!['Mul', 'Div', 'Cast', 'Identity'].includes(node.opType ?? '')) return undefined;
    current = node.input?.find((i) => i && !index.isConstant(i) && index.producer(i)?.opType !== 'Sqrt') ?? '';
  }
  return undefined;
}

/**
 * True when `tensor` is computed from the graph input `target` through projection and head-splitting ops only.
 * A bias Add is followed, a residual Add is not: otherwise a self-attention deep in the UNet would reach the
 * text input through an earlier cross-attention's output.
 */
function leadsToInput(index: GraphIndex, tensor: string, target: string, depth: number): boolean {
  if (tensor === target) return true;
  if (depth === 0) return false;
  const node = index.producer(tensor);
  if (!node || !KEY_PATH_OPS.has(node.opType ?? '')) return false;
  let inputs = (node.input ?? []).filter((i) => i && !index.isConstant(i));
  if (node.opType === 'Add' && inputs.length > 1) return false;
  if (['Reshape', 'Slice', 'Unsqueeze', 'Squeeze', 'Split'].includes(node.opType ?? '')) inputs = inputs.slice(0, 1);
  return inputs.some((i) => leadsToInput(index, i, target, depth - 1));
}

interface ResolutionPosition {
  downsamples: number;
  upsamples: number;
}

/** How many stride-2 convolutions and upsampling Resizes run before each Softmax, in graph (= execution) order. */
function resolutionCounters(index: GraphIndex): { positions: Map<NodeProto, ResolutionPosition>; maxDownsamples: number } {
  const positions = new Map<NodeProto, ResolutionPosition>();
  let downsamples = 0;
  let upsamples = 0;
  for (const node of index.graph.node ?? []) {
    if (node.opType === 'Conv' && (intsAttribute(node, 'strides') ?? []).some((s) => s > 1)) downsamples++;
    if (node.opType === 'Resize' || node.opType === 'Upsample') upsamples++;
    if (node.opType === 'Softmax') positions.set(node, { downsamples, upsamples });
  }
  return { positions, maxDownsamples: downsamples };
}

/** Placement from a torch module scope in the node name: `/down_blocks.N/`, `/mid_block/`, `/up_blocks.N/`. */
function placeFromScope(nodeName: string): { place: AttentionPlace; block: number } | undefined {
  const blocks = /\/(down|up)_blocks\.(\d+)\//.exec(nodeName);
  if (blocks) return { place: blocks[1] as 'down' | 'up', block: Number(blocks[2]) };
  if (nodeName.includes('/mid_block/')) return { place: 'mid', block: 0 };
  return undefined;
}

/**
 * Placement for scope-less exports. Down block N works at level N and up block N at level (deepest − N), where the
 * deepest level is the number of downsamplers; the mid block sits at the deepest level before any upsampling.
 */
function placeFromResolution(pos: ResolutionPosition, maxDownsamples: number): { place: AttentionPlace; block: number } {
  const level = pos.downsamples - pos.upsamples;
  if (pos.upsamples > 0) return { place: 'up', block: maxDownsamples - level };
  if (pos.downsamples === maxDownsamples) return { place: 'mid', block: 0 };
  return { place: 'down', block: level };
}
