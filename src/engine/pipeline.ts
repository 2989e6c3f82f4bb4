/**
 * Stable Diffusion text-to-image on ONNX Runtime, with diffusers' StableDiffusionPipeline semantics except for
 * guidance: classifier-free guidance is applied at every scale (negative and < 1 included), not only above 1.
 *
 * Several prompt rows can be denoised together from the same seed (Prompt-to-Prompt's source + edits); the UNet
 * batch is then [uncond rows of the guided rows..., cond rows...] (a row of guidance exactly 1 has no uncond row),
 * a layout the P2P controller relies on (UNetCall.uncondRows).
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { DenoiseController, UNetCall } from './controller.js';
import { UserError } from './errors.js';
import { checkPromptCharacters } from './prompt-text.js';
import { encodePng, formatParameters, vaeOutputToRgb, type RgbImage } from './image.js';
import { addNoise, beginImg2Img, checkImg2Img, img2imgStartIndex } from './img2img.js';
import type { ImagineJob, ImagineParams, ImagineResult, StepProgress, Timings } from './jobs.js';
import { SIZE_RANGE, STEPS_RANGE } from './limits.js';
import { loadModelInfo, type ModelInfo } from './model.js';
import { normalizeSeed, TorchGenerator } from './noise.js';
import { sessionOptions, type SessionSettings } from './onnx/session.js';
import { ClipTextEncoder } from './onnx/text-encoder.js';
import { UNet, type UNetLoader } from './onnx/unet.js';
import { VaeDecoder } from './onnx/vae-decoder.js';
import { VaeEncoder } from './onnx/vae-encoder.js';
import { LatentPreviewer, type PreviewOptions } from './preview.js';
import { createScheduler } from './schedulers/index.js';
import { SAMPLER_NAMES, type SamplerName, type Scheduler } from './schedulers/scheduler.js';
import { ClipTokenizer } from './tokenizer.js';
import { TrajectoryRecorder, type Trajectory } from './trajectory.js';

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
   * Prompt rows per UNet call to warm: 1 for plain images (UNet batch 2 with guidance), 2 for a Prompt-to-Prompt
   * edit whose source is replayed from its trajectory (source cond only + target with guidance: batch 3). Default [1].
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
  /** Called after every sampler step (PNDM's doubled first step reports once, after its second UNet call). */
  onProgress?(p: StepProgress): void;
  /** Attach a preview of the last row's x₀ to some progress reports (only those steps compute it). */
  preview?: PreviewOptions;
  /** Checked before every step; true → UserError('cancelled'). */
  shouldCancel?(): boolean;
  /**
   * One seed per row (a grid of candidates): row k starts from its own seed's noise, and ancestral samplers draw
   * each row's per-step noise from that row's generator. Default: every row uses `seed`.
   */
  seeds?: readonly string[];
  /**
   * Image-to-image (img2img.ts): start from these latents ([1 or rows, C, h, w], already × scaling factor),
   * noised to the schedule's point that `strength` (0…1) picks; only the rest of the schedule runs.
   */
  init?: { latents: Float32Array; strength: number };
  /** Record this prompt row's trajectory (its latents at the start and after every step, after the controller). */
  recordTrajectory?: number;
  /**
   * One row [C, h, w] that every row starts from instead of the seed's noise × init_noise_sigma (a replayed
   * trajectory's entry 0). The seed's noise is still drawn first, so ancestral samplers draw the same step noise.
   */
  startLatents?: Float32Array;
}

export interface DenoiseResult {
  /** Final latents of all rows, [rows, C, h, w] flat, before dividing by the VAE scaling factor. */
  latents: Float32Array;
  shape: [number, number, number, number];
  sampler: SamplerName;
  /** Per row: the prompt's tokens that did not fit. */
  truncated: string[][];
  timings: Timings;
  /** The recorded row's trajectory, when the request asked for one. */
  trajectory?: Trajectory;
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
    private readonly sessionSettings: InferenceSession.SessionOptions,
  ) {}

  /** Loaded on first use: text-to-image never pays for it. */
  private vaeEncoder: Promise<VaeEncoder> | undefined;

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
      return new StableDiffusionPipeline(model, tokenizer, textEncoder, unet, vaeDecoder, settings);
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
    checkPromptCharacters('prompt', params.prompt);
    checkPromptCharacters('negative prompt', params.negativePrompt);
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
    const channels = this.latentChannels;
    const latentHeight = req.height / this.model.vaeScaleFactor;
    const latentWidth = req.width / this.model.vaeScaleFactor;
    const latentSize = channels * latentHeight * latentWidth;
    const guidance = new GuidanceBatch(req.rows.map((row) => row.guidance), latentSize);
    const text = await this.encodeText(req.rows, guidance.uncondRows);

    const noise = new RowNoise(req.seeds ?? [req.seed], rows, [1, channels, latentHeight, latentWidth]);
    const start = startLatents(scheduler, req, noise, rows, latentSize);
    const first = start.first;
    let latents = start.latents;
    const context = { randn: () => noise.next() };

    const count = scheduler.timesteps.length;
    const previewer = req.preview && req.onProgress ? new LatentPreviewer(scheduler, req.steps, req.preview) : undefined;
    const recorder =
      req.recordTrajectory === undefined ? undefined : new TrajectoryRecorder(count - first + 1, [channels, latentHeight, latentWidth], req.recordTrajectory);
    recorder?.add(latents);
    const loopStart = performance.now();
    let unetMs = 0;
    for (let index = first; index < count; index++) {
      if (req.shouldCancel?.()) throw new UserError('cancelled', 'The job was cancelled.');
      const timestep = scheduler.timesteps[index];
      const call: UNetCall = {
        index,
        count,
        timestep,
        rows,
        cfg: guidance.cfg,
        uncondRows: guidance.uncondRows,
        batch: guidance.batch,
        latentHeight,
        latentWidth,
      };
      const fetches = req.controller?.unetFetches?.(call) ?? [];
      const scaled = scheduler.scaleModelInput(latents, index);
      const output = await this.unet.run({
        sample: guidance.unetInput(scaled),
        dims: [guidance.batch, channels, latentHeight, latentWidth],
        timestep,
        encoderHiddenStates: text.hiddenStates,
        feeds: req.controller?.unetFeeds?.(call),
        fetches,
      });
      unetMs += output.runMs;
      if (fetches.length > 0) req.controller?.onUnetOutputs?.(call, output.extras);
      const prediction = guidance.noisePrediction(output.noisePred);
      latents = scheduler.step(prediction, index, latents, context);
      latents = req.controller?.afterStep?.(call, latents, latentSize) ?? latents;
      recorder?.add(latents);
      // Steps as the user counts them: PNDM's n steps take n + 1 UNet calls (its first step twice).
      const step = req.steps - (count - index - 1);
      if (step < 1 || !req.onProgress) continue;
      const report = progress(step, req.steps, index + 1, count, started, loopStart);
      if (previewer?.wants(step)) {
        const shape = { row: rows - 1, channels, height: latentHeight, width: latentWidth };
        report.preview = await previewer.render(index, scaled, prediction, shape);
      }
      req.onProgress(report);
    }
    const loopMs = performance.now() - loopStart;
    return {
      ...(recorder ? { trajectory: recorder.finish() } : {}),
      latents,
      shape: [rows, channels, latentHeight, latentWidth],
      sampler,
      truncated: text.truncated,
      timings: {
        totalMs: performance.now() - started,
        textEncoderMs: text.runMs,
        unetMs,
        unetCalls: count - first,
        vaeMs: 0,
        hostMsPerStep: count > first ? (loopMs - unetMs) / (count - first) : 0,
      },
    };
  }

  /** VAE-decodes rows of latents ([rows, C, h, w], before scaling) to 8-bit RGB. */
  async decode(latents: Float32Array, shape: readonly number[]): Promise<RgbImage[]> {
    return (await this.decodeTimed(latents, shape)).images;
  }

  /** Validates `params` and resolves what a run of them uses: the normalised seed, and the model's sampler when none. */
  resolve(params: ImagineParams): ResolvedParams {
    this.validate(params);
    return { ...params, seed: normalizeSeed(params.seed), sampler: params.sampler ?? this.model.defaultSampler };
  }

  /** Plain text-to-image: validate → denoise one row → decode → PNG with its parameters. */
  async imagine(job: ImagineJob, hooks: ImagineHooks = {}): Promise<ImagineResult> {
    const started = performance.now();
    const params = this.resolve(job.params);
    const denoised = await this.denoise({
      ...imageRequest(params),
      onProgress: hooks.onProgress,
      preview: job.preview,
      shouldCancel: hooks.shouldCancel,
      controller: hooks.controller,
      recordTrajectory: job.returnTrajectory ? 0 : undefined,
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
    if (denoised.trajectory) result.trajectory = denoised.trajectory;
    return result;
  }

  /**
   * VAE-encodes one image ([1, 3, H, W] planar in [-1, 1], e.g. photo.ts's pixels) to the posterior mean × the
   * scaling factor: the latents a denoising run ends on. UserError('model') when the model has no vae_encoder/.
   */
  async encodeImage(pixels: Float32Array, width: number, height: number): Promise<{ latents: Float32Array; shape: [1, number, number, number]; runMs: number }> {
    this.checkSettings({ width, height, steps: STEPS_RANGE.min }); // the size is what matters here
    if (pixels.length !== 3 * width * height) {
      throw new UserError('bad_input', `An image of ${width}×${height} pixels needs ${3 * width * height} values, got ${pixels.length}.`);
    }
    const encoder = await this.loadVaeEncoder();
    const encoded = await encoder.encode(pixels, [1, 3, height, width], this.latentChannels);
    const scale = Math.fround(this.model.scalingFactor);
    const latents = encoded.mean.map((x) => x * scale);
    return { latents, shape: encoded.dims, runMs: encoded.runMs };
  }

  /** Latent channels of the UNet (the graph's, else unet/config.json's, else 4). */
  get latentChannels(): number {
    return this.unet.latentChannels ?? this.model.latentChannels ?? DEFAULT_LATENT_CHANNELS;
  }

  /**
   * Runs every session once at each batch size jobs will use (one 1-step denoise per entry of `promptRows`, one
   * VAE decode), so that the first job does not pay ONNX Runtime's first-run allocations at those sizes (a first
   * large-batch UNet call was measured at about twice a warm one). Returns the time it took.
   */
  async warmUp(options: WarmUpOptions): Promise<number> {
    const started = performance.now();
    const row = (guidance: number): PromptRow => ({ prompt: 'warm-up', negativePrompt: '', guidance });
    let last: DenoiseResult | undefined;
    for (const rows of options.promptRows ?? [1]) {
      // Row 0 of an edit is its source, replayed cond only (guidance 1); the others are guided.
      const batch = Array.from({ length: rows }, (_, i) => row(rows > 1 && i === 0 ? 1 : 7.5));
      last = await this.denoise({ rows: batch, seed: '0', steps: 1, width: options.width, height: options.height });
    }
    // The decoder runs one image at a time whatever the batch: one decode warms it.
    if (last) await this.decodeTimed(last.latents.subarray(0, last.latents.length / last.shape[0]), [1, ...last.shape.slice(1)]);
    return performance.now() - started;
  }

  async release(): Promise<void> {
    const encoder = this.vaeEncoder?.then((e) => e.release()).catch(() => undefined);
    await Promise.all([this.textEncoder.release(), this.unet.release(), this.vaeDecoder.release(), encoder]);
  }

  private loadVaeEncoder(): Promise<VaeEncoder> {
    const file = this.model.paths.vaeEncoder;
    if (!file) {
      return Promise.reject(
        new UserError('model', `${this.model.dir}/vae_encoder/model.onnx is missing: encoding an image (photos, variations, upscaling) needs the model's VAE encoder in vae_encoder/.`),
      );
    }
    this.vaeEncoder ??= VaeEncoder.load(file, this.sessionSettings).catch((e: unknown) => {
      this.vaeEncoder = undefined; // a later job may try again (say, after a transient provider failure)
      throw e;
    });
    return this.vaeEncoder;
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
   * Tokenizes and encodes the rows into the UNet's encoder_hidden_states: [uncond of `uncondRows`..., cond rows...].
   * Each distinct text is encoded once (P2P rows share their negative prompt).
   */
  private async encodeText(rows: readonly PromptRow[], uncondRows: readonly number[]): Promise<{ hiddenStates: Tensor; truncated: string[][]; runMs: number }> {
    const texts = [...uncondRows.map((r) => rows[r].negativePrompt), ...rows.map((row) => row.prompt)];
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

/** Image parameters with the seed normalised and the sampler decided. */
export type ResolvedParams = ImagineParams & { sampler: SamplerName };

/** The denoising request of one image: its prompt row, seed, steps, size and sampler. */
export function imageRequest(params: ResolvedParams): DenoiseRequest {
  const { prompt, negativePrompt, guidance, seed, steps, width, height, sampler } = params;
  return { rows: [{ prompt, negativePrompt, guidance }], seed, steps, width, height, sampler };
}

function checkGuidance(guidance: number): void {
  if (typeof guidance !== 'number' || !Number.isFinite(guidance)) {
    throw new UserError('bad_input', `Guidance ${guidance} is not a finite number: expected a scale such as 7.5 (negative values are allowed).`);
  }
}

/**
 * The run's seeded noise: one generator whose draw every row shares (Prompt-to-Prompt rows start alike), or one
 * generator per row (a grid of candidates), each drawing that row's noise exactly as a single-row run would.
 */
class RowNoise {
  private readonly generators: TorchGenerator[];

  constructor(
    seeds: readonly string[],
    private readonly rows: number,
    private readonly oneLatent: readonly number[],
  ) {
    if (seeds.length !== 1 && seeds.length !== rows) {
      throw new UserError('bad_input', `A run of ${rows} rows takes one seed or one per row, not ${seeds.length}.`);
    }
    this.generators = seeds.map((seed) => new TorchGenerator(seed));
  }

  /** One latent per generator, [1 or rows, C, h, w]; schedulers broadcast a single latent to every row. */
  next(): Float32Array {
    if (this.generators.length === 1) return this.generators[0].randn(this.oneLatent);
    const draws = this.generators.map((g) => g.randn(this.oneLatent));
    const out = new Float32Array(this.rows * draws[0].length);
    draws.forEach((draw, row) => out.set(draw, row * draw.length));
    return out;
  }
}

/**
 * The latents the loop starts from and the index of its first step. Text-to-image: the first draw × init_noise_sigma
 * from step 0. Image-to-image (img2img.ts): the init latents noised with that same first draw at the schedule's
 * point the strength picks (none at strength 0).
 */
function startLatents(
  scheduler: Scheduler,
  req: DenoiseRequest,
  noise: RowNoise,
  rows: number,
  latentSize: number,
): { latents: Float32Array; first: number } {
  const drawn = noise.next();
  if (req.startLatents) {
    // A replayed trajectory's entry 0: the seed's noise was still drawn, so ancestral samplers draw the same step noise.
    if (req.init) throw new UserError('bad_input', 'A run starts from its start latents or from an init image, not both.');
    if (req.startLatents.length !== latentSize) {
      throw new UserError('bad_input', `The start latents hold ${req.startLatents.length} values, the run needs ${latentSize}.`);
    }
    return { latents: toRows(req.startLatents.slice(), rows, latentSize), first: 0 };
  }
  if (!req.init) {
    const sigma = Math.fround(scheduler.initNoiseSigma); // torch multiplies a float32 tensor by a float32 scalar
    return { latents: toRows(drawn.map((x) => x * sigma), rows, latentSize), first: 0 };
  }
  checkImg2Img(req.init.strength);
  const index = img2imgStartIndex(req.steps, req.init.strength);
  const init = toRows(req.init.latents, rows, latentSize);
  if (index >= req.steps) return { latents: init, first: scheduler.timesteps.length };
  const latents = addNoise(scheduler, init, drawn, index);
  return { latents, first: beginImg2Img(scheduler, index) };
}

/** One latent repeated for every row, or rows × latent as it is. */
function toRows(data: Float32Array, rows: number, latentSize: number): Float32Array {
  if (data.length === rows * latentSize) return data;
  if (data.length !== latentSize) {
    throw new UserError('bad_input', `Start latents of length ${data.length} fit neither one row nor ${rows} rows of ${latentSize} values.`);
  }
  const out = new Float32Array(rows * latentSize);
  for (let row = 0; row < rows; row++) out.set(data, row * latentSize);
  return out;
}

/**
 * Classifier-free guidance over prompt rows: builds the UNet batch [uncond rows of the guided rows..., cond rows...]
 * and combines its output into eps = uncond + g·(cond − uncond) per guided row. A row of guidance exactly 1 is
 * its cond prediction alone (guidance is then the identity), so it needs no uncond row: with every scale 1 the
 * batch is the cond rows alone, and a Prompt-to-Prompt source row replayed from its trajectory costs one row.
 */
class GuidanceBatch {
  /** Prompt rows that have an uncond row, in batch order (uncond item i is prompt row uncondRows[i]). */
  readonly uncondRows: readonly number[];
  readonly batch: number;
  /** Reused every step: the UNet reads it during run() only. */
  private readonly input: Float32Array | undefined;

  constructor(
    private readonly scales: readonly number[],
    private readonly latentSize: number,
  ) {
    this.uncondRows = scales.flatMap((g, row) => (g !== 1 ? [row] : []));
    this.batch = this.uncondRows.length + scales.length;
    this.input = this.cfg ? new Float32Array(this.batch * latentSize) : undefined;
  }

  get cfg(): boolean {
    return this.uncondRows.length > 0;
  }

  /** The UNet sample for the scaled latents of all rows. */
  unetInput(scaled: Float32Array): Float32Array {
    if (!this.input) return scaled;
    const size = this.latentSize;
    this.uncondRows.forEach((row, i) => this.input!.set(scaled.subarray(row * size, (row + 1) * size), i * size));
    this.input.set(scaled, this.uncondRows.length * size);
    return this.input;
  }

  /**
   * One noise prediction per row. The guided values are written over the cond rows of this call's own output
   * buffer (no per-step allocation, and schedulers such as PNDM and DPM++ may keep it), rounded to float32 at
   * each operation as torch computes them.
   */
  noisePrediction(output: Float32Array): Float32Array {
    if (!this.cfg) return output;
    const fround = Math.fround;
    const size = this.latentSize;
    const condStart = this.uncondRows.length * size;
    this.uncondRows.forEach((row, i) => {
      const scale = fround(this.scales[row]);
      const uncond = i * size;
      const cond = condStart + row * size;
      for (let j = 0; j < size; j++) {
        const u = output[uncond + j];
        output[cond + j] = u + fround(scale * fround(output[cond + j] - u));
      }
    });
    return output.subarray(condStart, condStart + this.scales.length * size);
  }
}

/** Progress after user step `step` of `total`, which was UNet call `calls` of `callCount`. */
function progress(step: number, total: number, calls: number, callCount: number, started: number, loopStart: number): StepProgress {
  const now = performance.now();
  const perCall = (now - loopStart) / calls;
  return { step, total, elapsedMs: now - started, etaMs: perCall * (callCount - calls) };
}
