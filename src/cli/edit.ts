/**
 * `reprompt edit`: draws the source image and its Prompt-to-Prompt edit from the same seed, through the same engine
 * worker and handler module the bot uses. The generation options describe the source image.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { parseEdit } from '../p2p/edit/language.js';
import type { EditJob, EditParams, EditResult, StepWindow } from '../p2p/jobs.js';
import { addEngineOptions, startEngine } from './engine-options.js';
import { windowFractions } from '../p2p/edit/schedule.js';
import { addGenerationOptions, generationParams, writeOutputs, type GenerationOptions, type Prepared } from './imagine.js';
import { finiteNumber, fromValidator, integer } from './options.js';
import { outputFile, writeOutputFile } from './output-file.js';
import { previewRequest, writePreview } from './preview-out.js';
import { formatSeconds, ProgressBar } from './progress-bar.js';

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
    .option('--source-out <file.png>', 'also write the source image', outputFile);
  addGenerationOptions(command);
  addEngineOptions(command).action((options: EditOptions) => edit(options));
}

/** The job and output file of `reprompt edit`, with the edit language checked (nothing is loaded or written). */
export function prepareEdit(options: EditOptions): Prepared<EditJob> {
  if (options.edit !== undefined && options.target !== undefined) {
    throw new InvalidArgumentError('Give either --edit or --target, not both.');
  }
  const source = generationParams(options);
  const out = options.out ?? outputFile(`reprompt-edit-${source.seed}.png`);
  const params: EditParams = {
    source,
    edit: options.edit ?? options.target ?? '',
    weights: options.reweight,
    blend: options.blend,
    cross: options.cross,
    self: options.self,
    selfResolution: options.selfRes,
    guidance: options.editCfg,
    referenceMapper: options.referenceMapper,
  };
  // The edit language needs no model: report a typo before loading one.
  parseEdit({ source: source.prompt, edit: params.edit, weights: params.weights, blend: params.blend });
  const job: EditJob = {
    kind: 'edit',
    params,
    sourceImage: options.sourceOut !== undefined,
    returnLatents: options.saveLatents !== undefined,
    attentionMap: options.attentionOut !== undefined,
    ...previewRequest(options.previewOut),
  };
  return { job, out };
}

async function edit(options: EditOptions): Promise<void> {
  const { job, out } = prepareEdit(options);
  const engine = await startEngine(options);
  const bar = new ProgressBar(process.stderr);
  let result: EditResult;
  try {
    result = await engine.run<EditResult>(job, { onProgress: (progress) => (bar.update(progress), writePreview(options.previewOut, progress)) });
  } finally {
    bar.clear();
    await engine.close();
  }
  writeOutputs(out, result, options);
  if (options.sourceOut !== undefined && result.source) writeOutputFile(options.sourceOut, result.source.png);
  process.stdout.write(
    `${out}  "${result.targetPrompt}"  mode=${result.mode}  seed=${result.params.source.seed}  time=${formatSeconds(result.timings.totalMs)}\n`,
  );
}
