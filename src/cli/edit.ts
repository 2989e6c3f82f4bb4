/**
 * `reprompt edit`: draws the source image and its Prompt-to-Prompt edit from the same seed, through the same engine
 * worker and handler module the bot uses. The generation options describe the source image.
 * With `--image FILE` the source is the user's picture instead (--prompt describes it): the engine inverts it
 * (`invert` job), then the edit replays that inversion as its source (src/p2p/photo-edit.ts).
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { errorMessage, UserError } from '../engine/errors.js';
import { checkInversion } from '../engine/inversion.js';
import type { InvertJob, InvertResult } from '../engine/jobs.js';
import { checkPhoto, photoOutputSize } from '../engine/photo.js';
import { checkPhotoEdit, photoEditJob, photoEditParams, photoId, photoInvertJob, PHOTO_SAMPLER, type PhotoEditRequest } from '../p2p/photo-edit.js';
import { parseEdit } from '../p2p/edit/language.js';
import type { EditJob, EditParams, EditResult, StepWindow } from '../p2p/jobs.js';
import { addEngineOptions, onEngine } from './engine-options.js';
import { windowFractions } from '../p2p/edit/schedule.js';
import { addGenerationOptions, generationParams, writeOutputs, type GenerationOptions, type Prepared } from './imagine.js';
import { finiteNumber, fromValidator, integer } from './options.js';
import { outputFile, writeOutputFile } from './output-file.js';
import { previewRequest, writePreview } from './preview-out.js';
import { formatSeconds } from './progress-bar.js';

export interface EditOptions extends GenerationOptions {
  edit?: string;
  target?: string;
  reweight?: { word: string; weight: number }[];
  blend?: string[];
  cross?: StepWindow;
  self?: StepWindow;
  selfRes?: number;
  editCfg?: number;
  referenceMapper?: boolean;
  sourceOut?: string;
  /** A picture to edit (photo edit): --prompt then describes it. */
  image?: string;
}

/** `0.8` → 0.8, `0.2,0.6` → [0.2, 0.6] (fractions of the run, checked as the edit schedule requires). */
function stepWindow(what: string): (text: string) => StepWindow {
  const check = fromValidator((window: StepWindow): StepWindow => (windowFractions(window, what), window));
  return (text) => {
    const parts = text.split(',').map((p) => finiteNumber(p));
    if (parts.length === 1) return check(parts[0]);
    if (parts.length === 2) return check([parts[0], parts[1]]);
    throw new InvalidArgumentError('Expected a fraction like 0.8 or a window like "0.2,0.6".');
  };
}

/** `smiling=2,pink=-1` → [{ word: 'smiling', weight: 2 }, …]. */
function wordWeights(text: string): { word: string; weight: number }[] {
  return text.split(',').map((item) => {
    const at = item.lastIndexOf('=');
    if (at <= 0) throw new InvalidArgumentError(`Expected word=weight, got “${item.trim()}”.`);
    return { word: item.slice(0, at).trim(), weight: finiteNumber(item.slice(at + 1)) };
  });
}

const blendWords = (text: string): string[] => text.split(/[\s,]+/u).filter(Boolean);

export function register(program: Command): void {
  const command = program
    .command('edit')
    .option('--edit <edit>', 'the edit: "cat→dog", "cat->dog, red→blue", "(word:1.5)", "…; blend: cat dog; cross: dog=0.4"')
    .option('--target <prompt>', 'the full new prompt (swap when only words differ, else refinement)')
    .option('--reweight <word=w,…>', 'word weights on the target, e.g. "smiling=2,pink=-1"', wordWeights)
    .option('--blend <words>', 'local blending: only the regions of these words may change', blendWords)
    .option('--cross <f | start,end>', 'cross-attention replacement window, fraction of the run (default 0.8)', stepWindow('cross-attention'))
    .option('--self <f | start,end>', 'self-attention replacement window (default 0.4)', stepWindow('self-attention'))
    .option('--self-res <px>', 'replace self-attention on the layers of at most px×px (default 16; 32 adds the 32×32 layers)', integer({ min: 1 }))
    .option('--edit-cfg <scale>', "guidance of the edited image (default: the source's --cfg)", finiteNumber)
    .option('--reference-mapper', "reproduce the reference implementation's word-swap mapper exactly (its tail misalignment)")
    .option('--source-out <file.png>', 'also write the source image', outputFile)
    .option('--image <file>', 'edit this picture (PNG, JPEG, WebP) instead of a generated one: --prompt describes it; DDIM only; size: its own unless --width/--height');
  addGenerationOptions(command);
  addEngineOptions(command).action((options: EditOptions, cmd: Command) => {
    const { image } = options;
    if (image === undefined) return edit(options);
    // A photo's size is its own unless given: the generation defaults (512) do not apply.
    const given = (name: string): boolean => cmd.getOptionValueSource(name) !== 'default';
    return editPhoto({ ...options, image, width: given('width') ? options.width : undefined, height: given('height') ? options.height : undefined });
  });
}

/** The edit fields of the options (everything but the source), with --edit and --target checked. */
function editFields(options: Omit<EditOptions, 'width' | 'height'>): Omit<EditParams, 'source'> {
  if (options.edit !== undefined && options.target !== undefined) {
    throw new InvalidArgumentError('Give either --edit or --target, not both.');
  }
  return {
    edit: options.edit ?? options.target ?? '',
    weights: options.reweight,
    blend: options.blend,
    cross: options.cross,
    self: options.self,
    selfResolution: options.selfRes,
    guidance: options.editCfg,
    referenceMapper: options.referenceMapper,
  };
}

/** The job and output file of `reprompt edit`, with the edit language checked (nothing is loaded or written). */
export function prepareEdit(options: EditOptions): Prepared<EditJob> {
  const fields = editFields(options);
  const source = generationParams(options);
  const out = options.out ?? outputFile(`reprompt-edit-${source.seed}.png`);
  const params: EditParams = { source, ...fields };
  // The edit language needs no model: report a typo before loading one.
  parseEdit({ source: source.prompt, edit: params.edit, weights: params.weights, blend: params.blend });
  const job: EditJob = {
    kind: 'edit',
    params,
    ...outputRequests(options),
  };
  return { job, out };
}

/** What the edit job returns besides the image: what the output options ask for. */
function outputRequests(options: Pick<EditOptions, 'sourceOut' | 'saveLatents' | 'attentionOut' | 'previewOut'>): Omit<EditJob, 'kind' | 'params'> {
  return {
    sourceImage: options.sourceOut !== undefined,
    returnLatents: options.saveLatents !== undefined,
    attentionMap: options.attentionOut !== undefined,
    ...previewRequest(options.previewOut),
  };
}

async function edit(options: EditOptions): Promise<void> {
  const { job, out } = prepareEdit(options);
  const result = await onEngine(options, (engine, bar) =>
    engine.run<EditResult>(job, { onProgress: (progress) => (bar.update(progress), writePreview(options.previewOut, progress)) }),
  );
  writeEditOutputs(out, result, options);
  process.stdout.write(
    `${out}  "${result.targetPrompt}"  mode=${result.mode}  seed=${result.params.source.seed}  time=${formatSeconds(result.timings.totalMs)}\n`,
  );
}

/** The edited image and what the output options asked for (the source image with --source-out). */
function writeEditOutputs(out: string, result: EditResult, options: Pick<EditOptions, 'saveLatents' | 'attentionOut' | 'sourceOut'>): void {
  writeOutputs(out, result, options);
  if (options.sourceOut !== undefined && result.source) writeOutputFile(options.sourceOut, result.source.png);
}

/** `reprompt edit --image FILE`: the options, with the size the photo's own unless given. */
export type PhotoEditOptions = Omit<EditOptions, 'width' | 'height'> & { image: string; width?: number; height?: number };

export interface PreparedPhotoEdit {
  invert: InvertJob;
  /** The edit's params: the photo's source (its description, DDIM, its size). */
  params: EditParams;
  /** The edit job's output requests (the params come with the inversion: the photo's size). */
  outputs: Omit<EditJob, 'kind' | 'params'>;
  out: string;
}

/**
 * The inversion job and edit request of a photo edit, checked before anything loads: the options, the edit against
 * the description, the sampler, and the file's header (not an image, too small, too large, animated) and size.
 */
export async function preparePhotoEdit(options: PhotoEditOptions): Promise<PreparedPhotoEdit> {
  const request: PhotoEditRequest = {
    ...editFields(options),
    description: options.prompt,
    negativePrompt: options.negative,
    steps: options.steps,
    guidance: options.editCfg ?? options.cfg,
    sampler: options.scheduler,
  };
  checkPhotoEdit(request);
  let image: Uint8Array;
  try {
    image = readFileSync(options.image);
  } catch (e) {
    throw new UserError('bad_input', `Cannot read ${options.image} (${errorMessage(e)}).`);
  }
  const size = photoOutputSize(await checkPhoto(image), { width: options.width, height: options.height });
  checkInversion(request.description, request.steps);
  const out = options.out ?? outputFile(`${basename(options.image, extname(options.image))}-edit.png`);
  const params = photoEditParams(request, { id: photoId(image), ...size });
  return { invert: photoInvertJob(params, image), params, outputs: outputRequests(options), out };
}

async function editPhoto(options: PhotoEditOptions): Promise<void> {
  const { invert, params, outputs, out } = await preparePhotoEdit(options);
  const { inverted, result } = await onEngine(options, async (engine, bar) => {
    const inverted = await engine.run<InvertResult>(invert, { onProgress: (progress) => bar.update(progress) });
    const job = photoEditJob(params, inverted, outputs);
    const result = await engine.run<EditResult>(job, { onProgress: (progress) => (bar.update(progress), writePreview(options.previewOut, progress)) });
    return { inverted, result };
  });
  writeEditOutputs(out, result, options);
  const { width, height } = inverted.photo;
  process.stdout.write(
    `${out}  "${result.targetPrompt}"  mode=${result.mode}  ${width}x${height}  sampler=${PHOTO_SAMPLER}  ` +
      `time=${formatSeconds(inverted.timings.totalMs + result.timings.totalMs)} (inversion ${formatSeconds(inverted.timings.totalMs)})\n`,
  );
}
