/**
 * patchUNetGraph: bytes of a UNet export in, bytes of the same UNet with the attention-control contract
 * (contract.ts) out. Pure: external-data references are kept as they are, so the patched graph must be loaded with
 * the original model's folder as its external-data folder.
 */
import { UserError } from '../../engine/errors.js';
import { ModelNames } from './builder.js';
import { type AttentionLayer, P2P_INPUT } from './contract.js';
import { addAttentionControls, type LayerFusion } from './control-graph.js';
import { type AttentionSite, findAttentionSites } from './find-attention.js';
import { GraphIndex } from './graph-index.js';
import { findSelfAttentionBlock } from './self-attention-block.js';
import {
  type GraphProto,
  MICROSOFT_DOMAIN,
  type ModelProto,
  decodeModel,
  defaultOpset,
  encodeModel,
  hasExternalData,
  onnx,
} from '../../engine/graph/onnx-model.js';
import { type UNetIO, findUNetIO } from './unet-inputs.js';

/** What the graph alone tells about a layer (heads and resolution level need a run: see probe.ts). */
export type PatchedLayer = Omit<AttentionLayer, 'heads' | 'level'>;

export interface PatchResult {
  bytes: Uint8Array;
  layers: PatchedLayer[];
  io: UNetIO;
  /** The weights live in files next to the original model. */
  externalData: boolean;
}

export interface PatchOptions {
  /**
   * Heads per attention layer (graph order, as the probe measured them on the explicit patch). Given, every
   * self-attention layer whose block is recognised runs ONNX Runtime's fused MultiHeadAttention in the calls where
   * no control replaces or captures it; omitted, every layer is explicit.
   */
  fuseSelfAttention?: { heads: readonly number[] };
}

export function patchUNetGraph(modelBytes: Uint8Array, options: PatchOptions = {}): PatchResult {
  const model = decodeModel(modelBytes);
  const patched = patchUNetModel(model, options);
  return { bytes: encodeModel(model), ...patched };
}

/** patchUNetGraph on a decoded model, which it edits in place (for callers that edit it further). */
export function patchUNetModel(model: ModelProto, options: PatchOptions = {}): Omit<PatchResult, 'bytes'> {
  const graph = model.graph;
  if (!graph) throw new UserError('model', 'This ONNX file holds no graph.');
  const opset = defaultOpset(model);
  if (opset < 11) throw new UserError('model', `This UNet uses ONNX opset ${opset}; attention editing needs opset 11 or newer.`);
  const index = new GraphIndex(graph);
  if (index.isGraphInput(P2P_INPUT.sourceIndex)) throw new UserError('model', 'This UNet is already patched for attention control.');
  const io = findUNetIO(index);
  const sites = findAttentionSites(index, io.text.name);
  const fusions = selfAttentionFusions(index, sites, options.fuseSelfAttention?.heads);
  if (fusions.size > 0 && !model.opsetImport.some((o) => o.domain === MICROSOFT_DOMAIN)) {
    model.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: MICROSOFT_DOMAIN, version: 1 }));
  }
  addAttentionControls(graph, sites, new ModelNames(allNames(graph), opset), fusions);
  return {
    layers: sites.map(({ index: i, name, kind, place, block, layout }) => ({ index: i, name, kind, place, block, layout, fused: fusions.has(i) })),
    io,
    externalData: hasExternalData(graph),
  };
}

function selfAttentionFusions(index: GraphIndex, sites: AttentionSite[], heads: readonly number[] | undefined): Map<number, LayerFusion> {
  const fusions = new Map<number, LayerFusion>();
  if (!heads) return fusions;
  if (heads.length !== sites.length) throw new Error(`patchUNetModel: heads for ${heads.length} layers, the graph has ${sites.length}`);
  for (const site of sites) {
    const block = findSelfAttentionBlock(index, site);
    if (block) fusions.set(site.index, { block, heads: heads[site.index] });
  }
  return fusions;
}

/** Every tensor and node name of the graph and its subgraphs, so that new names cannot collide. */
function allNames(graph: GraphProto): string[] {
  const names: string[] = [];
  const visit = (g: GraphProto): void => {
    for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? []), ...(g.initializer ?? [])]) names.push(v.name ?? '');
    for (const node of g.node ?? []) {
      names.push(node.name ?? '', ...(node.input ?? []), ...(node.output ?? []));
      for (const a of node.attribute ?? []) {
        if (a.g) visit(a.g);
        for (const sub of a.graphs ?? []) visit(sub);
      }
    }
  };
  visit(graph);
  return names;
}
