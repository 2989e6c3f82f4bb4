/**
 * From parsed edits to the per-call control data of the patched UNet (pure data; the runtime wraps it in
 * tensors). The inputs it fills, and what the graph computes from them, are the contract in ../graph/contract.ts:
 * cross layers compute out_row = src_row @ W_row + P_row ⊙ D_row, self layers take the source row where asked.
 *
 * Batch layout: [uncond rows of the guided prompt rows…, cond rows…] (see the engine's UNetCall.uncondRows; a
 * source replayed from its trajectory runs cond only); prompt row 0 is the source and rows
 * 1.. are the edits. Only the cond edit rows are edited (W = S ⊙ α, D = O ⊙ α + 1 − α, see mapping.ts); the source
 * row and every uncond row get W = 0, D = 1. For a re-edit the source is not in the batch: the prompt rows are
 * the edits only, and their source is the first external row (index N), fed from the attention store.
 */
import { UserError } from '../../engine/errors.js';
import type { ParsedEdit } from './language.js';
import { editMapping, type EditMapping } from './mapping.js';
import {
  alphaRow,
  crossAlphaTable,
  DEFAULT_CROSS_WINDOW,
  DEFAULT_SELF_THRESHOLD,
  DEFAULT_SELF_WINDOW,
  replacedSelfLayers,
  selfCallRange,
  splitCrossSchedule,
  type AttentionLayerInfo,
  type CrossSchedule,
  type SelfThreshold,
  type StepWindow,
  type TokenWindow,
} from './schedule.js';
import { phraseWordIndices, tokensOfWords, type EditTokenizer } from './words.js';

export interface PlanOptions {
  /** Inference steps T (the alpha table has T + 1 rows). */
  steps: number;
  /** Cross-attention window: one for all tokens, or per word with `default_` (default 0.8). */
  cross?: CrossSchedule;
  /** Self-attention window (default 0.4). */
  self?: StepWindow;
  /** Which self layers are replaced (default: latent/4 and smaller). */
  selfThreshold?: SelfThreshold;
  /** Reproduce the reference's replacement-mapper tail bug (see replace.ts). */
  referenceTailBug?: boolean;
}

export interface EditRowPlan extends EditMapping {
  edit: ParsedEdit;
  /** Row-major [(T + 1), K]: 1 where the token's cross attention is replaced at that UNet call. */
  alpha: Float32Array;
}

export interface EditPlan {
  source: string;
  /** K: token slots of the text encoder. */
  tokens: number;
  steps: number;
  /** One per edited prompt row (prompt rows 1, 2, …). */
  edits: EditRowPlan[];
  /** Self-attention replacement UNet calls [start, end). */
  selfCalls: [number, number];
  selfThreshold: SelfThreshold;
}

/** The per-token windows of one edit: the option's per-word entries (where the word occurs) and the edit's own. */
function tokenWindows(edit: ParsedEdit, optionWords: readonly [string, StepWindow][], tokenizer: EditTokenizer): TokenWindow[] {
  const windows: TokenWindow[] = [];
  for (const [word, window] of optionWords) {
    const indices = phraseWordIndices(edit.target, word);
    if (indices.length > 0) windows.push({ tokens: tokensOfWords(edit.target, indices, tokenizer), window });
  }
  for (const { wordIndices, window } of edit.perWordCross ?? []) windows.push({ tokens: tokensOfWords(edit.target, wordIndices, tokenizer), window });
  return windows;
}

/** Builds the plan of one or more edits of the same source prompt. */
export function buildEditPlan(edits: ParsedEdit | readonly ParsedEdit[], tokenizer: EditTokenizer, options: PlanOptions): EditPlan {
  const list: readonly ParsedEdit[] = Array.isArray(edits) ? edits : [edits as ParsedEdit];
  if (list.length === 0) throw new Error('buildEditPlan needs at least one edit');
  const source = list[0].source;
  if (list.some((e) => e.source !== source)) throw new Error('every edit of a plan must have the same source prompt');
  const { defaultWindow, words } = splitCrossSchedule(options.cross ?? DEFAULT_CROSS_WINDOW);
  for (const [word] of words) {
    if (list.every((e) => phraseWordIndices(e.target, word).length === 0)) {
      throw new UserError('bad_input', `The cross window names “${word}”, which is not in the edited prompt “${list[0].target}”.`);
    }
  }
  const size = tokenizer.maxLength;
  return {
    source,
    tokens: size,
    steps: options.steps,
    edits: list.map((edit) => ({
      edit,
      ...editMapping(edit, tokenizer, { referenceTailBug: options.referenceTailBug }),
      alpha: crossAlphaTable(options.steps, size, defaultWindow, tokenWindows(edit, words, tokenizer)),
    })),
    selfCalls: selfCallRange(options.self ?? DEFAULT_SELF_WINDOW, options.steps),
    selfThreshold: options.selfThreshold ?? DEFAULT_SELF_THRESHOLD,
  };
}

/** What the runtime says about one UNet call (a subset of the engine's UNetCall). */
export interface CallShape {
  /** 0-based UNet evaluation. */
  index: number;
  cfg: boolean;
  /** Prompt rows in the batch. */
  rows: number;
  /** Prompt rows that have an uncond row, in batch order (they come first). */
  uncondRows: readonly number[];
  /** Batch rows N = uncondRows.length + rows. */
  batch: number;
  latentHeight: number;
  latentWidth: number;
}

export interface CallControls {
  sourceIndex: BigInt64Array;
  crossOn: boolean;
  /** [N, K, K] */
  crossWeight: Float32Array;
  /** [N, K] */
  crossKeep: Float32Array;
  /** [L], 0/1 */
  selfOn: Uint8Array;
  /** [N], 0/1 */
  selfRows: Uint8Array;
}

export interface CallOptions {
  /** False for a re-edit: the batch holds the edit rows only and the source is external row N (default true). */
  sourceInBatch?: boolean;
}

/** The control data of one UNet call. `layers` lists every attention layer in the graph's p2p_self_on order. */
export function controlsForCall(plan: EditPlan, call: CallShape, layers: readonly AttentionLayerInfo[], options: CallOptions = {}): CallControls {
  const sourceInBatch = options.sourceInBatch ?? true;
  const expectedRows = plan.edits.length + (sourceInBatch ? 1 : 0);
  if (call.rows !== expectedRows || call.batch !== call.rows + call.uncondRows.length) {
    throw new Error(
      `P2P call shape mismatch: ${call.rows} prompt rows / batch ${call.batch} (${call.uncondRows.length} uncond), the plan needs ${expectedRows} prompt rows`,
    );
  }
  const size = plan.tokens;
  const n = call.batch;
  const condStart = call.uncondRows.length;
  const controls: CallControls = {
    sourceIndex: new BigInt64Array(n),
    crossOn: false,
    crossWeight: new Float32Array(n * size * size),
    crossKeep: new Float32Array(n * size).fill(1),
    selfOn: new Uint8Array(layers.length),
    selfRows: new Uint8Array(n),
  };
  const inSelfWindow = call.index >= plan.selfCalls[0] && call.index < plan.selfCalls[1];
  const sourceRow = sourceInBatch ? condStart : n;
  for (let row = 0; row < n; row++) {
    controls.sourceIndex[row] = BigInt(row);
    const edit = row >= condStart ? plan.edits[row - condStart - (sourceInBatch ? 1 : 0)] : undefined;
    if (!edit) continue; // an uncond row or the source row: unchanged
    controls.sourceIndex[row] = BigInt(sourceRow);
    controls.selfRows[row] = inSelfWindow ? 1 : 0;
    const alpha = alphaRow(edit.alpha, size, call.index);
    const weight = controls.crossWeight.subarray(row * size * size, (row + 1) * size * size);
    const keep = controls.crossKeep.subarray(row * size, (row + 1) * size);
    for (let col = 0; col < size; col++) {
      const a = alpha[col];
      if (a === 0) continue;
      controls.crossOn = true;
      keep[col] = edit.fromOwn[col] * a + 1 - a;
      for (let w = 0; w < size; w++) weight[w * size + col] = edit.fromSource[w * size + col] * a;
    }
  }
  if (inSelfWindow && plan.edits.length > 0) {
    replacedSelfLayers(layers, plan.selfThreshold, call.latentHeight, call.latentWidth).forEach((on, l) => (controls.selfOn[l] = on ? 1 : 0));
  }
  return controls;
}

/**
 * LocalBlend's word tokens per prompt row (row 0 = the source, then one per edit), or undefined when no edit asks
 * for local blending. The source row takes the source-side blend words of every edit.
 */
export function blendRowTokens(plan: EditPlan, tokenizer: EditTokenizer): number[][] | undefined {
  if (plan.edits.every((e) => !e.edit.blend)) return undefined;
  const sourceWords = [...new Set(plan.edits.flatMap((e) => e.edit.blend?.sourceWords ?? []))];
  return [
    tokensOfWords(plan.source, sourceWords, tokenizer),
    ...plan.edits.map((e) => tokensOfWords(e.edit.target, e.edit.blend?.targetWords ?? [], tokenizer)),
  ];
}
