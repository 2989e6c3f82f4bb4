/**
 * Lets a torch-exported diffusers UNet run at any latent size, not only at multiples of 8 (images: of 64).
 *
 * diffusers' UNet2DConditionModel downsamples with stride-2, padding-1 convs, so a side n becomes ceil(n/2). When a
 * latent side is not a multiple of 2^(number of upsamplers), its forward pass gives each up block's upsampler the
 * size of the skip tensor the next up block concatenates first (`upsample_size = down_block_res_samples[-1].shape[2:]`,
 * then `F.interpolate(h, size=upsample_size, mode="nearest")`) instead of doubling. The export traced the doubling
 * path and baked `scales = [1, 1, 2, 2]` into every upsampler's Resize, so at other sizes the up path stops lining
 * up with the skips ("Concat … mismatched dimensions").
 *
 * The patch gives each such Resize `sizes` = [N, C] of its input ‖ [H, W] of that skip, computed at run time. Where
 * the skip is exactly twice the input (every side a multiple of 8), nearest resizing to it picks the same pixels
 * as doubling, so the output is bitwise the original graph's.
 */
import { dirname, resolve } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { FreshNames, GraphLinks } from '../graph/graph-links.js';
import {
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  decodeModel,
  defaultOpset,
  encodeModel,
  floatTensor,
  floatValues,
  int64Tensor,
  attrInt,
  intAttribute,
  intsAttribute,
  stringAttribute,
} from '../graph/onnx-model.js';
import { readOnnxModel, withExternalWeightsFolder } from './model-file.js';
import { sessionLoadError } from './session.js';

export interface FlexibleSizePatch {
  /** The patched model; the input bytes themselves when nothing was patched. */
  bytes: Uint8Array;
  /** How many upsampler Resize nodes now take their size from their skip tensor. */
  patched: number;
}

/**
 * Makes every up-block upsampler of a UNet export resize to the size of the skip tensor it is concatenated with.
 * Nodes that are not recognised as such are left as they are (then `patched` is 0 and `bytes` the input); so are
 * external-data references, which keeps the patched graph loadable against the original weights folder.
 */
export function makeUpsamplingSizeExact(modelBytes: Uint8Array): FlexibleSizePatch {
  const model = decodeModel(modelBytes);
  const patched = makeUpsamplingSizeExactInModel(model);
  return { bytes: patched > 0 ? encodeModel(model) : modelBytes, patched };
}

/** The same patch on a decoded model, for callers that edit it further before encoding. Returns the count. */
export function makeUpsamplingSizeExactInModel(model: ModelProto): number {
  const opset = defaultOpset(model);
  // Resize takes a `sizes` input from opset 11 on.
  if (!model.graph || opset < 11) return 0;
  const links = new GraphLinks(model.graph);
  const sites = findUpsamplers(links);
  if (sites.length > 0) resizeToSkips(model.graph, links, sites, opset);
  return sites.length;
}

/**
 * Opens a UNet with `makeUpsamplingSizeExact` applied, from memory, against the original file's folder for its
 * external weights (if any).
 */
export async function createFlexibleUNetSession(
  unetModelPath: string,
  options: InferenceSession.SessionOptions,
): Promise<InferenceSession> {
  const { bytes, model } = await readOnnxModel(unetModelPath);
  const graph = makeUpsamplingSizeExactInModel(model) > 0 ? encodeModel(model) : bytes;
  try {
    return await InferenceSession.create(graph, withExternalWeightsFolder(options, dirname(resolve(unetModelPath))));
  } catch (e) {
    throw sessionLoadError(unetModelPath, options, e);
  }
}

interface Upsampler {
  resize: NodeProto;
  /** The tensor whose height and width the Resize output must have. */
  skip: string;
}

function findUpsamplers(links: GraphLinks): Upsampler[] {
  const found: Upsampler[] = [];
  for (const node of links.graph.node ?? []) {
    if (node.opType !== 'Resize' || !isTorchNearest(node) || !doublesHeightAndWidth(links, node)) continue;
    const skip = skipConcatenatedWith(links, node.output?.[0] ?? '');
    if (skip !== undefined && links.availableBefore(skip, node)) found.push({ resize: node, skip });
  }
  return found;
}

/**
 * torch's nearest mode reads source pixel floor(dst · in/out), which is ONNX's 'asymmetric' coordinates with
 * nearest_mode 'floor' (what torch exports). Other modes round differently at sizes that are not exact doublings.
 */
function isTorchNearest(resize: NodeProto): boolean {
  return (
    (stringAttribute(resize, 'mode') ?? 'nearest') === 'nearest' &&
    stringAttribute(resize, 'coordinate_transformation_mode') === 'asymmetric' &&
    stringAttribute(resize, 'nearest_mode') === 'floor'
  );
}

/** A Resize by constant scales [1, 1, 2, 2] and no `sizes`: an upsampler as traced at a multiple-of-8 latent. */
function doublesHeightAndWidth(links: GraphLinks, resize: NodeProto): boolean {
  const [, , scales, sizes] = resize.input ?? [];
  if (sizes || !scales) return false;
  const tensor = links.constantTensor(scales);
  const values = tensor && floatValues(tensor);
  return values?.join(',') === '1,1,2,2';
}

/** At most this many size-keeping ops (the upsampler's conv, casts) between the Resize and the up block's Concat. */
const MAX_HOPS = 4;

/**
 * Follows the upsampled tensor through ops that keep its height and width to the channel Concat of the next up
 * block, and returns the Concat's other input: the skip connection.
 */
function skipConcatenatedWith(links: GraphLinks, upsampled: string): string | undefined {
  let tensor = upsampled;
  for (let hop = 0; hop <= MAX_HOPS; hop++) {
    const consumers = links.consumers(tensor);
    if (consumers.length !== 1 || links.isGraphOutput(tensor)) return undefined;
    const next = consumers[0];
    if (next.opType === 'Concat') return channelConcatPartner(next, tensor);
    if (next.input?.[0] !== tensor || !keepsHeightAndWidth(next)) return undefined;
    tensor = next.output?.[0] ?? '';
  }
  return undefined;
}

function channelConcatPartner(concat: NodeProto, tensor: string): string | undefined {
  const axis = intAttribute(concat, 'axis');
  const others = (concat.input ?? []).filter((name) => name !== tensor);
  // Axis 1 of an NCHW tensor is also written -3.
  return (axis === 1 || axis === -3) && concat.input?.length === 2 && others.length === 1 ? others[0] : undefined;
}

const ELEMENTWISE_UNARY = new Set(['Cast', 'Identity']);

/** A unary op, or a stride-1 Conv padded to keep the size ('same' padding: pads sum to dilation·(kernel − 1)). */
function keepsHeightAndWidth(node: NodeProto): boolean {
  if (ELEMENTWISE_UNARY.has(node.opType ?? '')) return true;
  if (node.opType !== 'Conv') return false;
  if ((intsAttribute(node, 'strides') ?? []).some((s) => s !== 1)) return false;
  const autoPad = stringAttribute(node, 'auto_pad') ?? 'NOTSET';
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return true;
  const kernel = intsAttribute(node, 'kernel_shape');
  if (autoPad !== 'NOTSET' || !kernel) return false;
  const pads = intsAttribute(node, 'pads') ?? new Array<number>(2 * kernel.length).fill(0);
  const dilations = intsAttribute(node, 'dilations') ?? new Array<number>(kernel.length).fill(1);
  return kernel.every((k, i) => pads[i] + pads[i + kernel.length] === dilations[i] * (k - 1));
}

/**
 * Gives each Resize `sizes` = Concat(Shape(input)[0:2], Shape(skip)[2:4]), inserted just before it, and drops the
 * scale constants no other node reads. From opset 13 an unused `scales` is the empty name; before, an empty tensor.
 */
function resizeToSkips(graph: GraphProto, links: GraphLinks, sites: readonly Upsampler[], opset: number): void {
  const names = new FreshNames(links.allNames(), 'flexible_size');
  const constants = new ConstantPool(names);
  const insertedBefore = new Map<NodeProto, NodeProto[]>();
  const oldScales = sites.map(({ resize }) => resize.input?.[2] ?? '');
  for (const { resize, skip } of sites) {
    const [input, roi = ''] = resize.input ?? [];
    const scope = resize.name || resize.output?.[0] || 'Resize';
    const nodes: NodeProto[] = [];
    const op = (opType: string, inputs: string[], attribute: AttributeProto[] = []): string => {
      const name = names.next(`${scope}/${opType}`);
      const output = names.next(`${name}_output`);
      nodes.push({ name, opType, input: inputs, output: [output], attribute });
      return output;
    };
    const batchAndChannels = op('Slice', [op('Shape', [input]), constants.int64(0n), constants.int64(2n)]);
    const skipHeightAndWidth = op('Slice', [op('Shape', [skip]), constants.int64(2n), constants.int64(4n)]);
    const sizes = op('Concat', [batchAndChannels, skipHeightAndWidth], [attrInt('axis', 0)]);
    resize.input = [input, roi, opset >= 13 ? '' : constants.emptyFloats(), sizes];
    insertedBefore.set(resize, nodes);
  }
  const unused = unusedAfterPatch(links, oldScales, new Set(insertedBefore.keys()));
  graph.node = (graph.node ?? []).flatMap((node) => (unused.nodes.has(node) ? [] : [...(insertedBefore.get(node) ?? []), node]));
  graph.initializer = [...(graph.initializer ?? []).filter((t) => !unused.initializers.has(t.name ?? '')), ...constants.tensors];
}

/**
 * The Constant nodes and initializers among `tensors` that only patched nodes read (so nothing reads them now).
 * Graph inputs and outputs stay, and so does everything when subgraphs exist (they may read outer-scope values).
 */
function unusedAfterPatch(
  links: GraphLinks,
  tensors: readonly string[],
  patched: ReadonlySet<NodeProto>,
): { nodes: Set<NodeProto>; initializers: Set<string> } {
  const unused = { nodes: new Set<NodeProto>(), initializers: new Set<string>() };
  if (links.hasSubgraphs()) return unused;
  for (const tensor of tensors) {
    if (links.isGraphInput(tensor) || links.isGraphOutput(tensor) || !links.consumers(tensor).every((c) => patched.has(c))) continue;
    const producer = links.producer(tensor);
    if (producer?.opType === 'Constant') unused.nodes.add(producer);
    else if (!producer) unused.initializers.add(tensor);
  }
  return unused;
}

/** Small constants shared by every inserted node, added to the graph as initializers. */
class ConstantPool {
  readonly tensors: TensorProto[] = [];
  private readonly byKey = new Map<string, string>();

  constructor(private readonly names: FreshNames) {}

  int64(value: bigint): string {
    return this.shared(`i64_${value}`, (name) => int64Tensor(name, [value]));
  }

  emptyFloats(): string {
    return this.shared('empty_scales', (name) => floatTensor(name, []));
  }

  private shared(key: string, make: (name: string) => TensorProto): string {
    let name = this.byKey.get(key);
    if (!name) {
      name = this.names.next(`/${key}`);
      this.byKey.set(key, name);
      this.tensors.push(make(name));
    }
    return name;
  }
}
