/**
 * Splices the attention-control contract (contract.ts) into a UNet graph: new inputs and outputs, and in place of
 * each attention's MatMul(probabilities, V) an `If` that edits, captures and maps the probabilities only when one
 * of those is switched on. Its else branch is the original MatMul, so neutral controls cost a few shape ops per
 * layer and never copy the probabilities. Self-attention layers given in `fusions` go further: their whole block
 * moves into the If, whose else branch is ONNX Runtime's fused MultiHeadAttention (fusedLayerControls).
 */
import { UserError } from '../../engine/errors.js';
import { type IfOutput, ModelNames, NodeBuilder } from './builder.js';
import { P2P_INPUT, extInputName, mapOutputName, probsOutputName } from './contract.js';
import type { AttentionSite } from './find-attention.js';
import type { SelfAttentionBlock } from './self-attention-block.js';
import {
  DataType,
  type ElemType,
  type GraphProto,
  MICROSOFT_DOMAIN,
  type NodeProto,
  type ValueInfoProto,
  attrFloat,
  attrInt,
  tensorValueInfo,
} from '../../engine/graph/onnx-model.js';

const BATCH = 'p2p_batch';
const TEXT = 'p2p_text_length';

/** A self-attention layer to compute fused when no control reads it: its block and its number of heads. */
export interface LayerFusion {
  block: SelfAttentionBlock;
  heads: number;
}

export function addAttentionControls(graph: GraphProto, sites: AttentionSite[], names: ModelNames, fusions: ReadonlyMap<number, LayerFusion> = new Map()): void {
  const inputs = controlInputs(sites);
  const outputs = [
    ...sites.map((s) => tensorValueInfo(probsOutputName(s.index), DataType.FLOAT, [`p2p_captured_${s.index}`, `p2p_heads_${s.index}`, `p2p_q_${s.index}`, `p2p_k_${s.index}`])),
    ...sites
      .filter((s) => s.kind === 'cross')
      .map((s) => tensorValueInfo(mapOutputName(s.index), DataType.FLOAT, [`p2p_mapped_${s.index}`, `p2p_q_${s.index}`, TEXT])),
  ];
  const clash = [...inputs, ...outputs].find((v) => !names.claim(v.name ?? ''));
  if (clash) throw new UserError('model', `This UNet already has a tensor named ${clash.name}; it cannot be patched for attention control.`);
  graph.input = [...(graph.input ?? []), ...inputs];
  graph.output = [...(graph.output ?? []), ...outputs];

  const shared = new NodeBuilder(names, 'shared');
  const controls: SharedControls = {
    batchShape: shared.shape(P2P_INPUT.sourceIndex),
    mapsWanted: shared.op('Greater', [shared.op('Size', [P2P_INPUT.mapRows]), names.int64([0n])]),
  };
  const replacements = new Map<NodeProto, NodeProto[]>();
  for (const site of sites) {
    const b = new NodeBuilder(names, `layer${site.index}`);
    const fusion = fusions.get(site.index);
    if (fusion) {
      fusedLayerControls(b, site, fusion.block, fusion.heads);
      // The If takes the place of the block's last node (the one that merges the heads): everything it reads from
      // outside the block exists by then.
      const { interior } = fusion.block;
      for (const node of interior) replacements.set(node, []);
      replacements.set(interior[interior.length - 1], b.nodes);
    } else {
      layerControls(b, site, controls);
      replacements.set(site.valueMatMul, b.nodes);
      for (const noOp of site.noOps) replacements.set(noOp, []);
    }
  }
  graph.node = [...shared.nodes, ...(graph.node ?? []).flatMap((n) => replacements.get(n) ?? [n])];
  graph.initializer = [...(graph.initializer ?? []), ...names.initializers];
}

interface SharedControls {
  /** [N], the UNet batch, from the length of p2p_source_index. */
  batchShape: string;
  /** p2p_map_rows is not empty. */
  mapsWanted: string;
}

function controlInputs(sites: AttentionSite[]): ValueInfoProto[] {
  const L = sites.length;
  return [
    tensorValueInfo(P2P_INPUT.sourceIndex, DataType.INT64, [BATCH]),
    tensorValueInfo(P2P_INPUT.crossOn, DataType.BOOL, []),
    tensorValueInfo(P2P_INPUT.crossWeight, DataType.FLOAT, [BATCH, TEXT, TEXT]),
    tensorValueInfo(P2P_INPUT.crossKeep, DataType.FLOAT, [BATCH, TEXT]),
    tensorValueInfo(P2P_INPUT.selfOn, DataType.BOOL, [L]),
    tensorValueInfo(P2P_INPUT.selfRows, DataType.BOOL, [BATCH]),
    tensorValueInfo(P2P_INPUT.captureOn, DataType.BOOL, [L]),
    tensorValueInfo(P2P_INPUT.captureRows, DataType.INT64, ['p2p_capture_count']),
    tensorValueInfo(P2P_INPUT.mapRows, DataType.INT64, ['p2p_map_count']),
    // Each external input gets its own symbolic dims: an empty one may come with any shape (see sourceRows).
    ...sites.map((s) => tensorValueInfo(extInputName(s.index), DataType.FLOAT, [`p2p_ext_rows_${s.index}`, `p2p_ext_h_${s.index}`, `p2p_ext_q_${s.index}`, `p2p_ext_k_${s.index}`])),
  ];
}

/**
 * Replaces MatMul(probs, V) of one layer by If(edit or capture or map wanted): the else branch is that same MatMul
 * plus empty capture/map outputs, so neutral controls cost a few shape ops; the then branch edits the probabilities
 * (a nested If), multiplies the result with V, and captures/maps it.
 */
function layerControls(b: NodeBuilder, site: AttentionSite, controls: SharedControls): void {
  const type = site.probsType;
  const attention = site.valueMatMul.output?.[0] ?? '';
  const layerIndex = b.names.int64([BigInt(site.index)]);
  const probs = probsView(b, site, controls);

  const editOn = site.kind === 'cross' ? P2P_INPUT.crossOn : b.gather(P2P_INPUT.selfOn, layerIndex, 0);
  const captureOn = b.gather(P2P_INPUT.captureOn, layerIndex, 0);
  let active = b.op('Or', [editOn, captureOn]);
  // The empty map's shape is built out here: ORT's optimizer would otherwise try (and warn about) renaming the
  // Slice output inside the branch.
  let emptyMapShape = '';
  if (site.kind === 'cross') {
    active = b.op('Or', [active, controls.mapsWanted]);
    emptyMapShape = b.concat([b.names.int64([0n]), probs.qk], 0);
  }

  const outputs: IfOutput[] = [
    { elemType: type, name: attention },
    { elemType: DataType.FLOAT, name: probsOutputName(site.index) },
  ];
  if (site.kind === 'cross') outputs.push({ elemType: DataType.FLOAT, name: mapOutputName(site.index) });
  b.ifElse(
    active,
    outputs,
    (t) => {
      const [attended, captured, out4] = controlledAttention(t, site, probs, editOn, captureOn);
      const results = [attended, captured];
      if (site.kind === 'cross') results.push(t.reduceMean(toFloat(t, t.gather(out4, P2P_INPUT.mapRows, 0), type), [1]));
      return results;
    },
    (e) => {
      const results = [e.op('MatMul', [site.probs, site.valueMatMul.input?.[1] ?? '']), emptyRows(e, probs.p4)];
      if (site.kind === 'cross') results.push(e.zeros(emptyMapShape, DataType.FLOAT));
      return results;
    },
  );
}

/**
 * A self-attention layer whose whole block (self-attention-block.ts) moves into If(self edit or capture wanted):
 * the then branch is the block as exported, with the edit and capture of layerControls in place of its MatMul
 * with V; the else branch is one MultiHeadAttention on the projections. So the probabilities exist only in calls
 * that replace or capture them, and every other call runs the fused kernel, which never materialises them.
 */
function fusedLayerControls(b: NodeBuilder, site: AttentionSite, block: SelfAttentionBlock, heads: number): void {
  const layerIndex = b.names.int64([BigInt(site.index)]);
  const editOn = b.gather(P2P_INPUT.selfOn, layerIndex, 0);
  const captureOn = b.gather(P2P_INPUT.captureOn, layerIndex, 0);
  const attention = site.valueMatMul.output?.[0] ?? '';
  const dropped = new Set(site.noOps);
  b.ifElse(
    b.op('Or', [editOn, captureOn]),
    [
      { elemType: DataType.FLOAT, name: block.merged },
      { elemType: DataType.FLOAT, name: probsOutputName(site.index) },
    ],
    (t) => {
      let captured = '';
      for (const node of block.interior) {
        if (dropped.has(node)) continue;
        if (node !== site.valueMatMul) t.nodes.push(node);
        // The block's later nodes read the product under its exported name, which is now defined here only.
        else [, captured] = controlledAttention(t, site, probsView(t, site, undefined), editOn, captureOn, attention);
      }
      // The branch's own name for the merged heads: the If's output takes the original one.
      const merged = t.names.fresh(`layer${site.index}/merged`);
      const last = t.nodes.find((n) => n.output?.includes(block.merged));
      if (!last) throw new Error(`fusedLayerControls: ${block.merged} is not computed inside its block`);
      last.output = (last.output ?? []).map((o) => (o === block.merged ? merged : o));
      return [merged, captured];
    },
    (e) => {
      const attributes = [attrInt('num_heads', heads), ...(block.scale === undefined ? [] : [attrFloat('scale', block.scale)])];
      const fused = e.op('MultiHeadAttention', [block.query, block.key, block.value], attributes, undefined, MICROSOFT_DOMAIN);
      // [0, H, S, S]: the shape of a capture that is switched off.
      const side = e.op('Slice', [e.shape(block.query), e.names.int64([1n]), e.names.int64([2n]), e.names.int64([0n])]);
      const empty = e.zeros(e.concat([e.names.int64([0n, BigInt(heads)]), side, side], 0), DataType.FLOAT);
      return [fused, empty];
    },
  );
}

interface ProbsView {
  /** The probabilities' own shape ([N·H,Q,K] or [N,H,Q,K]). */
  shape: string;
  /** [Q, K]. */
  qk: string;
  /** The probabilities as [N, H, Q, K]. */
  p4: string;
}

/**
 * [N·H,Q,K] or [N,H,Q,K] → [N,H,Q,K]: the 3-D layout is batch-major, so this reshape is exact (and free). N comes
 * from p2p_source_index (the shared shape, or its own inside a branch).
 */
function probsView(b: NodeBuilder, site: AttentionSite, controls: SharedControls | undefined): ProbsView {
  const shape = b.shape(site.probs);
  const qk = b.sliceFrom(shape, -2);
  const batch = controls?.batchShape ?? b.shape(P2P_INPUT.sourceIndex);
  return { shape, qk, p4: b.reshape(site.probs, b.concat([batch, b.names.int64([-1n]), qk], 0)) };
}

/** The edited (or not) probabilities times V (named `attention` when given), the captured rows, and the edited [N,H,Q,K]. */
function controlledAttention(
  t: NodeBuilder,
  site: AttentionSite,
  probs: ProbsView,
  editOn: string,
  captureOn: string,
  attention?: string,
): [string, string, string] {
  const type = site.probsType;
  const [out4] = t.ifElse(editOn, [{ elemType: type }], (e) => [edit(e, site, probs.p4)], (e) => [e.op('Identity', [probs.p4])]);
  const attended = t.op('MatMul', [t.reshape(out4, probs.shape), site.valueMatMul.input?.[1] ?? ''], [], attention);
  const [captured] = t.ifElse(
    captureOn,
    [{ elemType: DataType.FLOAT }],
    (c) => [toFloat(c, c.gather(out4, P2P_INPUT.captureRows, 0), type)],
    (c) => [emptyRows(c, probs.p4)],
  );
  return [attended, captured, out4];
}

const edit = (b: NodeBuilder, site: AttentionSite, p4: string): string => (site.kind === 'cross' ? crossEdit(b, site, p4) : selfEdit(b, site, p4));

/** A float32 [0, H, Q, K] tensor: what a switched-off capture yields. */
function emptyRows(b: NodeBuilder, p4: string): string {
  return b.zeros(b.concat([b.names.int64([0n]), b.sliceFrom(b.shape(p4), 1)], 0), DataType.FLOAT);
}

/** out = MatMul(src, W[:, None]) + P4 ⊙ D[:, None, None, :], computed in float32. */
function crossEdit(b: NodeBuilder, site: AttentionSite, p4: string): string {
  const probs = toFloat(b, p4, site.probsType);
  const src = sourceRows(b, probs, extInputName(site.index));
  const mapped = b.op('MatMul', [src, b.unsqueeze(P2P_INPUT.crossWeight, [1])]);
  const kept = b.op('Mul', [probs, b.unsqueeze(P2P_INPUT.crossKeep, [1, 2])]);
  const out = b.op('Add', [mapped, kept]);
  return site.probsType === DataType.FLOAT ? out : b.cast(out, site.probsType);
}

/** out = Where(self_rows[:, None, None, None], src, P4): a pure row selection, so it stays in the model's type. */
function selfEdit(b: NodeBuilder, site: AttentionSite, p4: string): string {
  const ext = site.probsType === DataType.FLOAT ? extInputName(site.index) : b.cast(extInputName(site.index), site.probsType);
  const src = sourceRows(b, p4, ext);
  return b.op('Where', [b.unsqueeze(P2P_INPUT.selfRows, [1, 2, 3]), src, p4]);
}

/**
 * Gather(Concat([P4, ext]), source_index). The external rows are first reshaped to [-1, H, Q, K], so that an empty
 * external input of any shape (the runtime may not know Q) concatenates cleanly.
 */
function sourceRows(b: NodeBuilder, p4: string, ext: string): string {
  const rowShape = b.concat([b.names.int64([-1n]), b.sliceFrom(b.shape(p4), 1)], 0);
  const all = b.concat([p4, b.reshape(ext, rowShape)], 0);
  return b.gather(all, P2P_INPUT.sourceIndex, 0);
}

function toFloat(b: NodeBuilder, x: string, type: ElemType): string {
  return type === DataType.FLOAT ? x : b.cast(x, DataType.FLOAT);
}
