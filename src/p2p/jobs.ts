/**
 * Plain-data Prompt-to-Prompt job descriptions (JSON-safe; they cross the worker boundary and are stored by the bot).
 */
import type { ImageOutput, ImagineParams, Timings } from '../engine/jobs.js';
import type { PreviewOptions } from '../engine/preview.js';
import type { Trajectory } from '../engine/trajectory.js';
import type { EditMode } from './edit/language.js';

/** A time window as fractions of the run: a number f means [0, f). */
export type StepWindow = number | [number, number];

export interface EditParams {
  /** The source image's own generation parameters (its seed, prompt, sampler, size, steps and guidance). */
  source: ImagineParams;
  /**
   * The edit in the edit language: `cat→dog` / `cat->dog`, `cat→dog, red→blue`, a full new prompt, `(word:1.5)` weights.
   * Empty with `weights` given = a pure re-weighting of the source prompt.
   */
  edit: string;
  /** Cross-attention replacement window (default 0.8). */
  cross?: StepWindow;
  /** Self-attention replacement window (default 0.4). */
  self?: StepWindow;
  /**
   * Self-attention is replaced on the layers whose maps are at most this many pixels on a side (default 16: 16×16
   * and smaller, the reference's rule; 32 also takes the 32×32 layers, as the null-text notebook does).
   */
  selfResolution?: number;
  /** Local blending: words (in the source or the target prompt) whose region may change; everything else stays. */
  blend?: string[];
  /** Extra word weights, e.g. { word: 'smiling', weight: 2 } (the same as `(smiling:2)` in the edit). */
  weights?: { word: string; weight: number }[];
  /** Guidance of the edited image; undefined = the source's. The source branch always keeps its own guidance. */
  guidance?: number;
  /**
   * Reproduce the reference implementation's replacement-mapper tail (A[j, j] after the last swapped word, which
   * misaligns the rest of the prompt when a swap changes the token count). Default false: the fixed A[i, j].
   */
  referenceMapper?: boolean;
  /**
   * The source is a user's picture (this id names it where the caller keeps it), not a generation: its source
   * trajectory comes from inverting the picture (src/p2p/photo-edit.ts), and it cannot be generated from the
   * parameters, so an edit of it without `sourceTrajectory` is refused.
   */
  photo?: string;
}

export interface EditJob {
  kind: 'edit';
  params: EditParams;
  /** Also render the edited image's per-token attention heat-map grid. */
  attentionMap?: boolean;
  /** Also return the source image (decoded from the source branch, or omitted when it came from the store). */
  sourceImage?: boolean;
  /** Return the edited image's final latents too. */
  returnLatents?: boolean;
  /** Attach live previews of the edited row to some progress reports. */
  preview?: PreviewOptions;
  /**
   * The source image's trajectory (from its generation, an earlier edit, or an inversion): the source row then
   * runs cond only, replayed from it (3 UNet rows instead of 4). Without one the source is generated in the batch
   * and its trajectory returned (EditResult.sourceTrajectory). Its run must match the source's steps, sampler, size.
   */
  sourceTrajectory?: Trajectory;
}

/** Where an edit's source branch came from (see runEdit). */
export type SourceFrom = 'store' | 'trajectory' | 'guided';

export interface EditResult {
  kind: 'edit';
  params: EditParams;
  /** The target prompt the edit produced (weights stripped). */
  targetPrompt: string;
  /** How the edit was applied. */
  mode: EditMode;
  image: ImageOutput;
  source?: ImageOutput;
  attentionMap?: ImageOutput;
  /** True when the source branch came from the attention store instead of being recomputed. */
  reusedSource: boolean;
  sourceFrom: SourceFrom;
  /** The source's trajectory when this edit generated it (sourceFrom 'guided'), for later edits. */
  sourceTrajectory?: Trajectory;
  latents?: { data: Float32Array; shape: number[] };
  timings: Timings;
}
