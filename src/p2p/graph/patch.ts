/**
 * patchUNetGraph: bytes of a UNet export in, bytes of the same UNet with the attention-control contract
 * (contract.ts) out. Pure: external-data references are kept as they are, so the patched graph must be loaded with
 * the original model's folder as its external-data folder.
 */
import { UserError } from '../../engine/errors.js';
import { ModelNames } from './builder.js';
import { type AttentionLayer, P2P_INPUT } from './contract.js';
import { addAttentionControls } from './control-graph.js';
import { findAttentionSites } from './find-attention.js';
import { GraphIndex } from './graph-index.js';
import { type GraphProto, type ModelProto, decodeModel, defaultOpset, encodeModel, hasExternalData } from '../../engine/graph/onnx-model.js';
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

export function patchUNetGraph(modelBytes: Uint8Array): PatchResult {
  const model = decodeModel(modelBytes);
  const patched = patchUNetModel(model);
  return { bytes: encodeModel(model), ...patched };
}

/** patchUNetGraph on a decoded model, which it edits in place (for callers that edit it further). */
export function patchUNetModel(model: ModelProto): Omit<PatchResult, 'bytes'> {
  const graph = model.graph;
  if (!graph) throw new UserError('model', 'This ONNX file holds no graph.');
  const opset = defaultOpset(model);
  if (opset < 11) throw new UserError('model', `This UNet uses ONNX opset ${opset}; attention editing needs opset 11 or newer.`);
  const index = new GraphIndex(graph);
  if (index.isGraphInput(P2P_INPUT.sourceIndex)) throw new UserError('model', 'This UNet is already patched for attention control.');
  const io = findUNetIO(index);
  const sites = findAttentionSites(index, io.text.name);
  addAttentionControls(graph, sites, new ModelNames(allNames(graph), opset));
  return {
    layers: sites.map(({ index: i, name, kind, place, block, layout }) => ({ index: i, name, kind, place, block, layout })),
    io,
    externalData: hasExternalData(graph),
  };
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
