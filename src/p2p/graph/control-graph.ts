/**
 * Splices the attention-control contract (contract.ts) into a UNet graph: new inputs and outputs, and in place of
 * each attention's MatMul(probabilities, V) an `If` that edits, captures and maps the probabilities only when one
 * of those is switched on. Its else branch is the original MatMul, so neutral controls cost a few shape ops per
 * layer and never copy the probabilities.
 */
import { UserError } from '../../engine/errors.js';
import { type IfOutput, ModelNames, NodeBuilder } from './builder.js';
import { P2P_INPUT, extInputName, mapOutputName, probsOutputName } from './contract.js';
import type { AttentionSite } from './find-attention.js';
import { DataType, type ElemType, type GraphProto, type NodeProto, type ValueInfoProto, tensorValueInfo } from '../../engine/graph/onnx-model.js';

const BATCH = 'p2p_batch';
const TEXT = 'p2p_text_length';

export function addAttentionControls(graph: GraphProto, sites: AttentionSite[], names: ModelNames): void {
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
    layerControls(b, site, controls);
    replacements.set(site.valueMatMul, b.nodes);
    for (const noOp of site.noOps) replacements.set(noOp, []);
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
  const [value, attention] = [site.valueMatMul.input?.[1] ?? '', site.valueMatMul.output?.[0] ?? ''];
  const layerIndex = b.names.int64([BigInt(site.index)]);
  // [N·H,Q,K] or [N,H,Q,K] → [N,H,Q,K]: the 3-D layout is batch-major, so this reshape is exact (and free).
  const probsShape = b.shape(site.probs);
  const qk = b.sliceFrom(probsShape, -2);
  const p4 = b.reshape(site.probs, b.concat([controls.batchShape, b.names.int64([-1n]), qk], 0));

  const editOn = site.kind === 'cross' ? P2P_INPUT.crossOn : b.gather(P2P_INPUT.selfOn, layerIndex, 0);
  const captureOn = b.gather(P2P_INPUT.captureOn, layerIndex, 0);
  let active = b.op('Or', [editOn, captureOn]);
  // The empty map's shape is built out here: ORT's optimizer would otherwise try (and warn about) renaming the
  // Slice output inside the branch.
  let emptyMapShape = '';
  if (site.kind === 'cross') {
    active = b.op('Or', [active, controls.mapsWanted]);
    emptyMapShape = b.concat([b.names.int64([0n]), qk], 0);
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
      const [out4] = t.ifElse(editOn, [{ elemType: type }], (e) => [edit(e, site, p4)], (e) => [e.op('Identity', [p4])]);
      const results = [
        t.op('MatMul', [t.reshape(out4, probsShape), value]),
        ...t.ifElse(captureOn, [{ elemType: DataType.FLOAT }], (c) => [toFloat(c, c.gather(out4, P2P_INPUT.captureRows, 0), type)], (c) => [emptyRows(c, p4)]),
      ];
      if (site.kind === 'cross') results.push(t.reduceMean(toFloat(t, t.gather(out4, P2P_INPUT.mapRows, 0), type), [1]));
      return results;
    },
    (e) => {
      const results = [e.op('MatMul', [site.probs, value]), emptyRows(e, p4)];
      if (site.kind === 'cross') results.push(e.zeros(emptyMapShape, DataType.FLOAT));
      return results;
    },
  );
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
