/**
 * Stable Diffusion text-to-image on ONNX Runtime, with diffusers' StableDiffusionPipeline semantics except for
 * guidance: classifier-free guidance is applied at every scale (negative and < 1 included), not only above 1.
 *
 * Several prompt rows can be denoised together from the same seed (Prompt-to-Prompt's source + edits); the UNet
 * batch is then [uncond rows..., cond rows...], a layout the P2P controller relies on.
 */
import type { Tensor } from 'onnxruntime-node';
import type { DenoiseController, UNetCall } from './controller.js';
import { UserError } from './errors.js';
import { encodePng, formatParameters, vaeOutputToRgb, type RgbImage } from './image.js';
import type { ImagineJob, ImagineParams, ImagineResult, StepProgress, Timings } from './jobs.js';
import { SIZE_RANGE, STEPS_RANGE } from './limits.js';
import { loadModelInfo, type ModelInfo } from './model.js';
import { normalizeSeed, TorchGenerator } from './noise.js';
import { sessionOptions, type SessionSettings } from './onnx/session.js';
import { ClipTextEncoder } from './onnx/text-encoder.js';
import { UNet, type UNetLoader } from './onnx/unet.js';
import { VaeDecoder } from './onnx/vae-decoder.js';
import { createScheduler } from './schedulers/index.js';
import { SAMPLER_NAMES, type SamplerName } from './schedulers/scheduler.js';
import { ClipTokenizer } from './tokenizer.js';

export interface PipelineOptions extends SessionSettings {
  /** Loads the UNet session (Prompt-to-Prompt passes one that patches the graph). */
  unetLoader?: UNetLoader;
  /** Warm the sessions right after loading (the engine worker does: see warmUp). */
  warmUp?: WarmUpOptions;
}

/** The shapes jobs will run, so that warmUp can run each once. */
export interface WarmUpOptions {
  width: number;
  height: number;
  /**
   * Prompt rows per UNet call to warm, each at classifier-free guidance (UNet batch = 2 × rows): 1 for plain
   * images, 2 for a Prompt-to-Prompt edit (source + target). Default [1].
   */
  promptRows?: readonly number[];
}

export interface PromptRow {
  prompt: string;
  /** '' for none: the unconditional input is then the empty prompt. */
  negativePrompt: string;
  guidance: number;
}

export interface DenoiseRequest {
  /** Row 0 first; every row starts from the seed's same noise. */
  rows: PromptRow[];
  seed: string;
  steps: number;
  width: number;
  height: number;
  /** Default: the model's own scheduler. */
  sampler?: SamplerName;
  controller?: DenoiseController;
  /** Called after every UNet evaluation. */
  onProgress?(p: StepProgress): void;
  /** Checked before every step; true → UserError('cancelled'). */
  shouldCancel?(): boolean;
}

export interface DenoiseResult {
  /** Final latents of all rows, [rows, C, h, w] flat, before dividing by the VAE scaling factor. */
  latents: Float32Array;
  shape: [number, number, number, number];
  sampler: SamplerName;
  /** Per row: the prompt's tokens that did not fit. */
  truncated: string[][];
  timings: Timings;
}

export interface ImagineHooks {
  onProgress?(p: StepProgress): void;
  shouldCancel?(): boolean;
  controller?: DenoiseController;
  /** Receives the decoded image before it is encoded (for callers that draw on it, e.g. heat-map overlays). */
  onImage?(image: RgbImage): void;
}

/** Latent channels when neither the UNet graph nor unet/config.json says (every SD 1.x/2.x model has 4). */
const DEFAULT_LATENT_CHANNELS = 4;

export class StableDiffusionPipeline {
  private constructor(
    readonly model: ModelInfo,
    readonly tokenizer: ClipTokenizer,
    readonly textEncoder: ClipTextEncoder,
    readonly unet: UNet,
    readonly vaeDecoder: VaeDecoder,
  ) {}

  static async load(modelDir: string, options: PipelineOptions = {}): Promise<StableDiffusionPipeline> {
    const model = await loadModelInfo(modelDir);
    const settings = sessionOptions(options);
    const tokenizer = await ClipTokenizer.load(model.paths.tokenizer);
    const loaded: { release(): Promise<void> }[] = [];
    try {
      const textEncoder = await ClipTextEncoder.load(model.paths.textEncoder, settings);
      loaded.push(textEncoder);
      const unet = await UNet.load(model.paths.unet, settings, options.unetLoader);
      loaded.push(unet);
      const vaeDecoder = await VaeDecoder.load(model.paths.vaeDecoder, settings);
      return new StableDiffusionPipeline(model, tokenizer, textEncoder, unet, vaeDecoder);
    } catch (e) {
      // The load error is the one to report, even if a release fails too.
      await Promise.allSettled(loaded.map((session) => session.release()));
      throw e;
    }
  }

  /**
   * Throws UserError('bad_input' | 'bad_prompt') for parameters this model cannot run. Too many tokens is not an
   * error: the prompt is truncated and the cut tokens are reported with the result.
   */
  validate(params: ImagineParams): void {
    if (typeof params.prompt !== 'string' || params.prompt.trim() === '') {
      throw new UserError('bad_prompt', 'The prompt is empty: describe what to draw.');
    }
    if (typeof params.negativePrompt !== 'string') throw new UserError('bad_prompt', 'The negative prompt must be text ("" for none).');
    normalizeSeed(params.seed);
    this.checkSettings(params);
    checkGuidance(params.guidance);
  }

  async denoise(req: DenoiseRequest): Promise<DenoiseResult> {
    const started = performance.now();
    this.checkSettings(req);
    if (req.rows.length === 0) throw new UserError('bad_input', 'Nothing to draw: the request has no prompt rows.');
    req.rows.forEach((row) => checkGuidance(row.guidance));
    const sampler = req.sampler ?? this.model.defaultSampler;
    const scheduler = createScheduler(this.model.schedulerConfig, sampler);
    scheduler.setTimesteps(req.steps);

    const rows = req.rows.length;
    const channels = this.unet.latentChannels ?? this.model.latentChannels ?? DEFAULT_LATENT_CHANNELS;
    const latentHeight = req.height / this.model.vaeScaleFactor;
    const latentWidth = req.width / this.model.vaeScaleFactor;
    const latentSize = channels * latentHeight * latentWidth;
    const guidance = new GuidanceBatch(req.rows.map((row) => row.guidance), latentSize);
    const text = await this.encodeText(req.rows, guidance.cfg);

    // One draw for all rows; the same generator then feeds the ancestral samplers' per-step noise.
    const oneLatent = [1, channels, latentHeight, latentWidth];
    const generator = new TorchGenerator(req.seed);
    let latents = initialLatents(generator.randn(oneLatent), rows, scheduler.initNoiseSigma);
    const context = { randn: () => generator.randn(oneLatent) };

    const count = scheduler.timesteps.length;
    const loopStart = performance.now();
    let unetMs = 0;
    for (let index = 0; index < count; index++) {
      if (req.shouldCancel?.()) throw new UserError('cancelled', 'The job was cancelled.');
      const timestep = scheduler.timesteps[index];
      const call: UNetCall = { index, count, timestep, rows, cfg: guidance.cfg, batch: guidance.batch, latentHeight, latentWidth };
      const fetches = req.controller?.unetFetches?.(call) ?? [];
      const output = await this.unet.run({
        sample: guidance.unetInput(scheduler.scaleModelInput(latents, index)),
        dims: [guidance.batch, channels, latentHeight, latentWidth],
        timestep,
        encoderHiddenStates: text.hiddenStates,
        feeds: req.controller?.unetFeeds?.(call),
        fetches,
      });
      unetMs += output.runMs;
      if (fetches.length > 0) req.controller?.onUnetOutputs?.(call, output.extras);
      latents = scheduler.step(guidance.noisePrediction(output.noisePred), index, latents, context);
      latents = req.controller?.afterStep?.(call, latents, latentSize) ?? latents;
      req.onProgress?.(progress(index + 1, count, started, loopStart));
    }
    const loopMs = performance.now() - loopStart;
    return {
      latents,
      shape: [rows, channels, latentHeight, latentWidth],
      sampler,
      truncated: text.truncated,
      timings: {
        totalMs: performance.now() - started,
        textEncoderMs: text.runMs,
        unetMs,
        unetCalls: count,
        vaeMs: 0,
        hostMsPerStep: count > 0 ? (loopMs - unetMs) / count : 0,
      },
    };
  }

  /** VAE-decodes rows of latents ([rows, C, h, w], before scaling) to 8-bit RGB. */
  async decode(latents: Float32Array, shape: readonly number[]): Promise<RgbImage[]> {
    return (await this.decodeTimed(latents, shape)).images;
  }

  /** Plain text-to-image: validate → denoise one row → decode → PNG with its parameters. */
  async imagine(job: ImagineJob, hooks: ImagineHooks = {}): Promise<ImagineResult> {
    const started = performance.now();
    this.validate(job.params);
    const params = { ...job.params, seed: normalizeSeed(job.params.seed), sampler: job.params.sampler ?? this.model.defaultSampler };
    const denoised = await this.denoise({
      rows: [{ prompt: params.prompt, negativePrompt: params.negativePrompt, guidance: params.guidance }],
      seed: params.seed,
      steps: params.steps,
      width: params.width,
      height: params.height,
      sampler: params.sampler,
      onProgress: hooks.onProgress,
      shouldCancel: hooks.shouldCancel,
      controller: hooks.controller,
    });
    const decoded = await this.decodeTimed(denoised.latents, denoised.shape);
    hooks.onImage?.(decoded.images[0]);
    const png = await encodePng(decoded.images[0], { parameters: formatParameters({ ...params, model: this.model.name }) });
    const result: ImagineResult = {
      kind: 'imagine',
      params,
      image: { png, width: params.width, height: params.height },
      truncated: denoised.truncated[0],
      timings: { ...denoised.timings, vaeMs: decoded.runMs, totalMs: performance.now() - started },
    };
    if (job.returnLatents) result.latents = { data: denoised.latents, shape: [...denoised.shape] };
    return result;
  }

  /**
   * Runs every session once at each batch size jobs will use (one 1-step denoise per entry of `promptRows`, one
   * VAE decode), so that the first job does not pay ONNX Runtime's first-run allocations at those sizes (a first
   * large-batch UNet call was measured at about twice a warm one). Returns the time it took.
   */
  async warmUp(options: WarmUpOptions): Promise<number> {
    const started = performance.now();
    const row: PromptRow = { prompt: 'warm-up', negativePrompt: '', guidance: 7.5 };
    let last: DenoiseResult | undefined;
    for (const rows of options.promptRows ?? [1]) {
      last = await this.denoise({ rows: Array.from({ length: rows }, () => row), seed: '0', steps: 1, width: options.width, height: options.height });
    }
    // The decoder runs one image at a time whatever the batch: one decode warms it.
    if (last) await this.decodeTimed(last.latents.subarray(0, last.latents.length / last.shape[0]), [1, ...last.shape.slice(1)]);
    return performance.now() - started;
  }

  async release(): Promise<void> {
    await Promise.all([this.textEncoder.release(), this.unet.release(), this.vaeDecoder.release()]);
  }

  private async decodeTimed(latents: Float32Array, shape: readonly number[]): Promise<{ images: RgbImage[]; runMs: number }> {
    const [rows, channels, height, width] = shape;
    const latentSize = channels * height * width;
    if (shape.length !== 4 || latents.length !== rows * latentSize) {
      throw new UserError('bad_input', `Latents of length ${latents.length} do not match the shape [${shape.join(', ')}].`);
    }
    const scale = Math.fround(this.model.scalingFactor);
    const images: RgbImage[] = [];
    let runMs = 0;
    for (let row = 0; row < rows; row++) {
      const latent = latents.slice(row * latentSize, (row + 1) * latentSize);
      for (let i = 0; i < latentSize; i++) latent[i] /= scale;
      const decoded = await this.vaeDecoder.decode(latent, [1, channels, height, width]);
      runMs += decoded.runMs;
      images.push(vaeOutputToRgb(decoded.data, decoded.height, decoded.width));
    }
    return { images, runMs };
  }

  /**
   * Tokenizes and encodes the rows into the UNet's encoder_hidden_states: [uncond rows..., cond rows...] with CFG,
   * the cond rows alone without. Each distinct text is encoded once (P2P rows share their negative prompt).
   */
  private async encodeText(rows: readonly PromptRow[], cfg: boolean): Promise<{ hiddenStates: Tensor; truncated: string[][]; runMs: number }> {
    const texts = [...(cfg ? rows.map((row) => row.negativePrompt) : []), ...rows.map((row) => row.prompt)];
    const distinct = [...new Set(texts)];
    const tokens = new Map(distinct.map((t) => [t, this.tokenizer.encodePadded(t)]));
    const embeddings = await this.textEncoder.encode(distinct.map((t) => tokens.get(t)!.ids));
    const [, sequence, hidden] = embeddings.dims;
    const rowSize = sequence * hidden;
    const data = new Float32Array(texts.length * rowSize);
    texts.forEach((t, i) => {
      const source = distinct.indexOf(t) * rowSize;
      data.set(embeddings.data.subarray(source, source + rowSize), i * rowSize);
    });
    return {
      hiddenStates: this.unet.hiddenStates(data, [texts.length, sequence, hidden]),
      truncated: rows.map((row) => tokens.get(row.prompt)!.truncated),
      runMs: embeddings.runMs,
    };
  }

  private checkSettings(s: { width: number; height: number; steps: number; sampler?: SamplerName }): void {
    const multiple = this.model.vaeScaleFactor;
    for (const [name, value] of [['Width', s.width], ['Height', s.height]] as const) {
      if (!Number.isInteger(value) || value % multiple !== 0 || value < SIZE_RANGE.min || value > SIZE_RANGE.max) {
        throw new UserError(
          'bad_input',
          `${name} ${value} is not supported: expected a multiple of ${multiple} from ${SIZE_RANGE.min} to ${SIZE_RANGE.max} pixels.`,
        );
      }
    }
    if (!Number.isInteger(s.steps) || s.steps < STEPS_RANGE.min || s.steps > STEPS_RANGE.max) {
      throw new UserError('bad_input', `Steps ${s.steps} is not supported: expected a whole number from ${STEPS_RANGE.min} to ${STEPS_RANGE.max}.`);
    }
    if (s.sampler !== undefined && !SAMPLER_NAMES.includes(s.sampler)) {
      throw new UserError('bad_input', `Unknown sampler "${s.sampler}": expected one of ${SAMPLER_NAMES.join(', ')}.`);
    }
  }
}

function checkGuidance(guidance: number): void {
  if (typeof guidance !== 'number' || !Number.isFinite(guidance)) {
    throw new UserError('bad_input', `Guidance ${guidance} is not a finite number: expected a scale such as 7.5 (negative values are allowed).`);
  }
}

/** The initial latents: the seed's noise × init_noise_sigma, the same for every row. */
function initialLatents(noise: Float32Array, rows: number, initNoiseSigma: number): Float32Array {
  const latents = new Float32Array(rows * noise.length);
  const sigma = Math.fround(initNoiseSigma); // torch multiplies a float32 tensor by a float32 scalar
  for (let i = 0; i < noise.length; i++) latents[i] = noise[i] * sigma;
  for (let row = 1; row < rows; row++) latents.copyWithin(row * noise.length, 0, noise.length);
  return latents;
}

/**
 * Classifier-free guidance over prompt rows: builds the UNet batch [uncond rows..., cond rows...] and combines its
 * output into eps = uncond + g·(cond − uncond) per row. With every scale exactly 1 guidance is the identity, so
 * the batch is the cond rows alone.
 */
class GuidanceBatch {
  readonly cfg: boolean;
  readonly batch: number;
  /** Reused every step: the UNet reads it during run() only. */
  private readonly input: Float32Array | undefined;

  constructor(
    private readonly scales: readonly number[],
    private readonly latentSize: number,
  ) {
    this.cfg = scales.some((g) => g !== 1);
    this.batch = this.cfg ? 2 * scales.length : scales.length;
    this.input = this.cfg ? new Float32Array(this.batch * latentSize) : undefined;
  }

  /** The UNet sample for the scaled latents of all rows. */
  unetInput(scaled: Float32Array): Float32Array {
    if (!this.input) return scaled;
    this.input.set(scaled, 0);
    this.input.set(scaled, scaled.length);
    return this.input;
  }

  /**
   * One noise prediction per row. The guided values are written over the uncond half of this call's own output
   * buffer (no per-step allocation, and schedulers such as PNDM and DPM++ may keep it), rounded to float32 at
   * each operation as torch computes them.
   */
  noisePrediction(output: Float32Array): Float32Array {
    if (!this.cfg) return output;
    const rows = this.scales.length;
    const fround = Math.fround;
    for (let row = 0; row < rows; row++) {
      const scale = fround(this.scales[row]);
      const uncond = row * this.latentSize;
      const cond = (rows + row) * this.latentSize;
      for (let i = 0; i < this.latentSize; i++) {
        const u = output[uncond + i];
        output[uncond + i] = u + fround(scale * fround(output[cond + i] - u));
      }
    }
    return output.subarray(0, rows * this.latentSize);
  }
}

function progress(step: number, total: number, started: number, loopStart: number): StepProgress {
  const now = performance.now();
  const perStep = (now - loopStart) / step;
  return { step, total, elapsedMs: now - started, etaMs: perStep * (total - step) };
}
