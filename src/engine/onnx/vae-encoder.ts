/**
 * The VAE encoder: image [1, 3, H, W] in [-1, 1] → the posterior MEAN [1, C, H/8, W/8] (before the scaling factor).
 *
 * Exports disagree on what the graph returns. optimum ≤ 1.22 exports `encode(x).latent_dist.sample()`: the graph ends
 * in `mean + exp(logvar/2) · RandomNormalLike(…)`, with fresh unseeded noise on every run. That sampling is cut out
 * structurally at load (the output becomes the `mean` operand of the final Add, and the noise branch goes), so the
 * result is deterministic. optimum ≥ 1.23 exports `latent_dist.parameters` = mean ‖ logvar (2C channels, no noise);
 * then the first C channels are the mean.
 */
import { dirname, resolve } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { UserError } from '../errors.js';
import { GraphLinks } from '../graph/graph-links.js';
import { encodeModel, type GraphProto, type ModelProto, type NodeProto } from '../graph/onnx-model.js';
import { findInput, findOutput, floatTensor, floatType, readFloat, type FloatType, type TensorSpec } from './io.js';
import { readOnnxModel, withExternalWeightsFolder } from './model-file.js';
import { inspectOrRelease, sessionLoadError } from './session.js';

export interface EncodedLatent {
  /** [C, h, w] of the posterior mean, float32, not yet multiplied by the scaling factor. */
  mean: Float32Array;
  dims: [1, number, number, number];
  /** Time inside session.run(). */
  runMs: number;
}

/** What the loaded graph outputs: the mean itself (after the sampling patch, or an export of the mean) or mean‖logvar. */
export type VaeEncoderOutput = 'mean' | 'moments';

const RANDOM_OPS = new Set(['RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Multinomial']);

export class VaeEncoder {
  private constructor(
    private readonly session: InferenceSession,
    readonly file: string,
    private readonly image: TensorSpec & { type: FloatType },
    private readonly latent: TensorSpec,
    /** True when the sampling subgraph was cut out at load. */
    readonly samplingRemoved: boolean,
  ) {}

  static async load(file: string, options: InferenceSession.SessionOptions): Promise<VaeEncoder> {
    const { bytes, model } = await readOnnxModel(file);
    const samplingRemoved = removeSampling(model, file);
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(
        samplingRemoved ? encodeModel(model) : bytes,
        withExternalWeightsFolder(options, dirname(resolve(file))),
      );
    } catch (e) {
      throw sessionLoadError(file, options, e);
    }
    return inspectOrRelease(session, () => {
      const image = findInput(session, file, { names: ['sample'], like: (s) => s.shape.length === 4, role: 'image' });
      const latent = findOutput(session, file, {
        names: ['latent_sample', 'latent_parameters', 'latent_dist'],
        like: (s) => s.shape.length === 4,
        role: 'latent',
      });
      return new VaeEncoder(session, file, { ...image, type: floatType(file, image) }, latent, samplingRemoved);
    });
  }

  /**
   * Encodes one image ([1, 3, H, W] planar in [-1, 1]) to its posterior mean. `latentChannels` (the UNet's) tells a
   * mean‖logvar output (2C channels) from a mean (C channels).
   */
  async encode(image: Float32Array, dims: readonly [1, 3, number, number], latentChannels: number): Promise<EncodedLatent> {
    const start = performance.now();
    const outputs = await this.session.run({ [this.image.name]: floatTensor(this.image.type, image, dims) }, [this.latent.name]);
    const runMs = performance.now() - start;
    const output = outputs[this.latent.name];
    const [, channels, height, width] = output.dims;
    const data = readFloat(output, this.file, this.latent.name);
    const kind = this.outputKind(channels, latentChannels);
    const mean = kind === 'moments' ? data.slice(0, latentChannels * height * width) : data;
    return { mean, dims: [1, latentChannels, height, width], runMs };
  }

  private outputKind(channels: number, latentChannels: number): VaeEncoderOutput {
    if (channels === latentChannels) return 'mean';
    if (channels === 2 * latentChannels && !this.samplingRemoved) return 'moments';
    throw new UserError(
      'model',
      `${this.file}: the encoder outputs ${channels} channels, but the UNet takes ${latentChannels} latent channels ` +
        `(expected ${latentChannels}, or ${2 * latentChannels} for mean and log-variance).`,
    );
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/**
 * When the graph samples its output (`mean + std · noise`, noise from a Random* op), makes the output that Add's
 * mean operand and drops the nodes nothing reads any more. Returns whether it did; UserError('model') when the graph
 * draws random numbers in some other shape (its output could not be made deterministic).
 */
export function removeSampling(model: ModelProto, file: string): boolean {
  const graph = model.graph;
  if (!graph || !(graph.node ?? []).some((n) => RANDOM_OPS.has(n.opType ?? ''))) return false;
  const links = new GraphLinks(graph);
  const outputs = graph.output ?? [];
  const random = (tensor: string): boolean => dependsOn(links, tensor, (node) => RANDOM_OPS.has(node.opType ?? ''));
  const unrecognised = (): UserError =>
    new UserError('model', `${file}: the encoder draws random numbers in a way this loader does not recognise (expected mean + std·noise at its output).`);
  if (outputs.length !== 1) throw unrecognised();
  const add = links.producer(outputs[0].name ?? '');
  const inputs = add?.input ?? [];
  if (add?.opType !== 'Add' || inputs.length !== 2) throw unrecognised();
  const noisy = inputs.map(random);
  if (noisy[0] === noisy[1]) throw unrecognised();
  const mean = inputs[noisy[0] ? 1 : 0];
  add.opType = 'Identity';
  add.input = [mean];
  removeDeadNodes(graph);
  return true;
}

/** True when `tensor` is computed from some node that `match` accepts. */
function dependsOn(links: GraphLinks, tensor: string, match: (node: NodeProto) => boolean): boolean {
  const seen = new Set<NodeProto>();
  const stack = [tensor];
  while (stack.length > 0) {
    const node = links.producer(stack.pop()!);
    if (!node || seen.has(node)) continue;
    if (match(node)) return true;
    seen.add(node);
    stack.push(...(node.input ?? []).filter(Boolean));
  }
  return false;
}

/**
 * Keeps only the nodes (and initializers) the graph outputs depend on. A graph with subgraphs (If, Loop) is left
 * whole: their nodes read outer tensors this index does not see (ONNX Runtime then runs the dead branch too).
 */
function removeDeadNodes(graph: GraphProto): void {
  const links = new GraphLinks(graph);
  if (links.hasSubgraphs()) return;
  const live = new Set<NodeProto>();
  const used = new Set<string>();
  const stack = (graph.output ?? []).map((v) => v.name ?? '');
  while (stack.length > 0) {
    const tensor = stack.pop()!;
    if (used.has(tensor)) continue;
    used.add(tensor);
    const node = links.producer(tensor);
    if (!node || live.has(node)) continue;
    live.add(node);
    stack.push(...(node.input ?? []).filter(Boolean));
  }
  graph.node = (graph.node ?? []).filter((node) => live.has(node));
  graph.initializer = (graph.initializer ?? []).filter((t) => used.has(t.name ?? ''));
}
