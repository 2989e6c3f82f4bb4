/**
 * The denoising UNet: (sample, timestep, encoder_hidden_states [+ extra inputs]) → noise prediction [+ extra outputs].
 * The session comes from an injectable loader so that Prompt-to-Prompt can swap in a patched graph with extra inputs.
 */
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { createFlexibleUNetSession } from './flexible-size.js';
import { findInput, findOutput, fixedDim, floatTensor, floatType, readFloat, unsupportedType, type FloatType, type TensorSpec } from './io.js';
import { inspectOrRelease } from './session.js';

export interface LoadedUNet {
  session: InferenceSession;
  /** Inputs that leave the patched graph's behaviour unchanged, for calls whose controller gives none. */
  neutralFeeds?(batch: number): Record<string, Tensor>;
}

export interface UNetLoader {
  load(unetModelPath: string, options: InferenceSession.SessionOptions): Promise<LoadedUNet>;
}

/** The plain UNet, with its upsamplers made size-exact so that any multiple of 8 pixels runs (flexible-size.ts). */
export const defaultUNetLoader: UNetLoader = {
  load: async (unetModelPath, options) => ({ session: await createFlexibleUNetSession(unetModelPath, options) }),
};

export interface UNetInput {
  /** [batch, C, h, w] flat. */
  sample: Float32Array;
  dims: readonly [number, number, number, number];
  timestep: number;
  /** From `UNet.hiddenStates()`: built once per job. */
  encoderHiddenStates: Tensor;
  /** Extra inputs (a controller's). Missing extra inputs come from the loader's neutral feeds. */
  feeds?: Record<string, Tensor>;
  /** Extra outputs to fetch. */
  fetches?: readonly string[];
}

export interface UNetOutput {
  /** [batch, C, h, w] flat, float32. */
  noisePred: Float32Array;
  extras: Record<string, Tensor>;
  /** Time inside session.run(). */
  runMs: number;
}

type TimestepType = 'int64' | 'int32' | 'float32' | 'float16';
const TIMESTEP_TYPES: readonly string[] = ['int64', 'int32', 'float32', 'float16'] satisfies TimestepType[];

export class UNet {
  /** Inputs beyond sample/timestep/encoder_hidden_states (a patched graph's controls). */
  private readonly extraInputs: readonly string[];
  private readonly neutralCache = new Map<number, Record<string, Tensor>>();

  private constructor(
    private readonly loaded: LoadedUNet,
    readonly file: string,
    private readonly sample: TensorSpec & { type: FloatType },
    private readonly timestep: TensorSpec & { type: TimestepType },
    private readonly context: TensorSpec & { type: FloatType },
    private readonly noisePred: TensorSpec,
  ) {
    const standard = [sample.name, timestep.name, context.name];
    this.extraInputs = loaded.session.inputNames.filter((name) => !standard.includes(name));
  }

  static async load(file: string, options: InferenceSession.SessionOptions, loader: UNetLoader = defaultUNetLoader): Promise<UNet> {
    const loaded = await loader.load(file, options);
    const session = loaded.session;
    return inspectOrRelease(session, () => {
      const sample = findInput(session, file, { names: ['sample'], like: (s) => s.shape.length === 4, role: 'latent sample' });
      const timestep = findInput(session, file, { names: ['timestep', 'timesteps'], like: (s) => s.shape.length <= 1, role: 'timestep' });
      const context = findInput(session, file, {
        names: ['encoder_hidden_states'],
        like: (s) => s.shape.length === 3,
        role: 'text-embedding',
      });
      const noisePred = findOutput(session, file, { names: ['out_sample'], like: (s) => s.shape.length === 4, role: 'noise-prediction' });
      if (!TIMESTEP_TYPES.includes(timestep.type)) throw unsupportedType(file, timestep, TIMESTEP_TYPES.join(', '));
      return new UNet(
        loaded,
        file,
        { ...sample, type: floatType(file, sample) },
        { ...timestep, type: timestep.type as TimestepType },
        { ...context, type: floatType(file, context) },
        noisePred,
      );
    });
  }

  /** Latent channels when the graph fixes them (on its input or its output). */
  get latentChannels(): number | undefined {
    return fixedDim(this.sample, 1) ?? fixedDim(this.noisePred, 1);
  }

  /** The encoder_hidden_states tensor for a job ([batch, sequence, hidden] flat). */
  hiddenStates(data: Float32Array, dims: readonly [number, number, number]): Tensor {
    return floatTensor(this.context.type, data, dims);
  }

  async run(input: UNetInput): Promise<UNetOutput> {
    const batch = input.dims[0];
    const feeds: Record<string, Tensor> = {
      ...this.missingExtraFeeds(batch, input.feeds),
      ...input.feeds,
      [this.sample.name]: floatTensor(this.sample.type, input.sample, input.dims),
      [this.timestep.name]: this.timestepTensor(input.timestep, batch),
      [this.context.name]: input.encoderHiddenStates,
    };
    const fetches = [this.noisePred.name, ...(input.fetches ?? [])];
    const start = performance.now();
    const outputs = await this.loaded.session.run(feeds, fetches);
    const runMs = performance.now() - start;
    const { [this.noisePred.name]: prediction, ...extras } = outputs;
    return { noisePred: readFloat(prediction, this.file, this.noisePred.name), extras, runMs };
  }

  /** The loader's neutral values for extra inputs the caller did not give (cached per batch size: they are constant). */
  private missingExtraFeeds(batch: number, given: Record<string, Tensor> | undefined): Record<string, Tensor> {
    if (!this.loaded.neutralFeeds || this.extraInputs.every((name) => given && name in given)) return {};
    let neutral = this.neutralCache.get(batch);
    if (!neutral) {
      neutral = this.loaded.neutralFeeds(batch);
      this.neutralCache.set(batch, neutral);
    }
    return neutral;
  }

  /**
   * diffusers' ONNX pipeline feeds the timestep with length 1 and lets the graph broadcast it; a graph that fixes a
   * longer length gets one copy per batch item. Integer graphs get the rounded value (schedulers' integer
   * timesteps are exact in float; torch would use a fractional one as it is).
   */
  private timestepTensor(t: number, batch: number): Tensor {
    const length = (fixedDim(this.timestep, 0) ?? 1) > 1 ? batch : 1;
    const dims = [length];
    switch (this.timestep.type) {
      case 'int64':
        return new Tensor('int64', new BigInt64Array(length).fill(BigInt(Math.round(t))), dims);
      case 'int32':
        return new Tensor('int32', new Int32Array(length).fill(Math.round(t)), dims);
      case 'float32':
      case 'float16':
        return floatTensor(this.timestep.type, new Float32Array(length).fill(t), dims);
    }
  }

  release(): Promise<void> {
    return this.loaded.session.release();
  }
}
