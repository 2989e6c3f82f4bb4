/**
 * Every button of the bot, one descriptor each: its id, label and style, under which messages (and in which row)
 * it is shown, what job it makes, who may press it, and how a job it made is named. Custom ids (./custom-id.ts),
 * the button rows under messages (here), job origins (./job.ts), headlines (./render.ts) and the handler of the
 * job-making buttons (commands/variations.ts) are all derived from this list: adding a button is adding an entry
 * (and, for a button that does something other than make a job, its handler in commands/).
 */
import type { BackendLimits } from './backend.js';
import { customId } from './custom-id.js';
import { candidateRequest, candidatesOf } from './grid.js';
import type { JobRecord } from './job.js';
import type { Button, ButtonRow, ButtonStyle } from './port/index.js';
import {
  attentionVariation,
  guidanceVariation,
  rerollVariation,
  strengthVariation,
  upscaleRefusal,
  upscaleVariation,
  varyVariation,
  type Variation,
} from './variations.js';

/**
 * The messages buttons are shown under: a queued or running job's status, or the result of a generation, an edit,
 * attention maps, a Vary / Upscale (image-to-image), or a grid of candidates.
 */
export type Surface = 'status' | 'imagine' | 'edit' | 'attention' | 'img2img' | 'grid';

export interface ActionSpec {
  /** The custom-id prefix (`id:jobId`). Never rename one: buttons already posted in Discord carry it. */
  readonly id: string;
  readonly style: ButtonStyle;
  /** The row it sits in under each kind of message it is shown under (buttons keep the list's order within a row). */
  readonly rows: Partial<Record<Surface, number>>;
  /** Who may press it: anyone who sees it, or only the job's author and admins. */
  readonly who: 'anyone' | 'author';
  /** A fixed label; job-making buttons take the label of the job they make. */
  readonly label?: string;
  /** The job the button makes from this one; undefined when it does not apply to this job (then it is not shown). */
  makes?(job: JobRecord, limits: BackendLimits): Variation | undefined;
  /** Why `makes` does not apply to this job, said to a user who presses the button anyway (an old message). */
  refusal?(job: JobRecord, limits: BackendLimits): string | undefined;
  /** How a job it made is introduced in its headline: `… · job #12 · reroll of #3`. */
  readonly origin?: string;
  /**
   * Under a grid: one button per candidate in this row, labelled `label` + its number (U1, V2, Edit 3), acting on
   * that candidate's own job (its custom id names the candidate's job id).
   */
  readonly perCandidate?: { row: number; label: string };
}

export const ACTION_SPECS = [
  {
    id: 'cfg-lower',
    style: 'secondary',
    rows: { imagine: 0, edit: 0, img2img: 0 },
    who: 'anyone',
    makes: (job: JobRecord, limits: BackendLimits) => guidanceVariation(job, 'cfg-lower', limits),
    origin: 'guidance variation of',
  },
  {
    id: 'cfg-higher',
    style: 'secondary',
    rows: { imagine: 0, edit: 0, img2img: 0 },
    who: 'anyone',
    makes: (job: JobRecord, limits: BackendLimits) => guidanceVariation(job, 'cfg-higher', limits),
    origin: 'guidance variation of',
  },
  {
    id: 'cfg-negative',
    style: 'danger',
    rows: { imagine: 0, edit: 0, img2img: 0 },
    who: 'anyone',
    makes: (job: JobRecord, limits: BackendLimits) => guidanceVariation(job, 'cfg-negative', limits),
    origin: 'negative-guidance variation of',
  },
  { id: 'reroll', style: 'primary', rows: { imagine: 0, grid: 3 }, who: 'anyone', makes: (job: JobRecord) => rerollVariation(job), origin: 'reroll of' },
  {
    id: 'edit-stronger',
    style: 'secondary',
    rows: { edit: 1 },
    who: 'anyone',
    makes: (job: JobRecord) => strengthVariation(job, 'stronger'),
    origin: 'stronger edit of',
  },
  { id: 'edit-weaker', style: 'secondary', rows: { edit: 1 }, who: 'anyone', makes: (job: JobRecord) => strengthVariation(job, 'weaker'), origin: 'weaker edit of' },
  {
    id: 'vary-subtle',
    style: 'secondary',
    rows: { imagine: 2, edit: 3, img2img: 1 },
    who: 'anyone',
    makes: (job: JobRecord) => varyVariation(job, 'subtle'),
    origin: 'subtle variation of',
  },
  {
    id: 'vary-strong',
    style: 'secondary',
    rows: { imagine: 2, edit: 3, img2img: 1 },
    who: 'anyone',
    makes: (job: JobRecord) => varyVariation(job, 'strong'),
    origin: 'strong variation of',
    perCandidate: { row: 1, label: 'V' },
  },
  {
    id: 'upscale',
    style: 'secondary',
    rows: { imagine: 2, edit: 3, img2img: 1 },
    who: 'anyone',
    makes: (job: JobRecord, limits: BackendLimits) => upscaleVariation(job, limits),
    refusal: (job: JobRecord, limits: BackendLimits) => upscaleRefusal(job, limits),
    origin: 'upscale of',
    perCandidate: { row: 0, label: 'U' },
  },
  /** Opens the edit dialog (commands/edit-with-prompt.ts). */
  { id: 'edit', label: 'Edit…', style: 'primary', rows: { imagine: 1, edit: 2 }, who: 'anyone', perCandidate: { row: 2, label: 'Edit ' } },
  {
    id: 'attention',
    style: 'secondary',
    rows: { imagine: 1, edit: 2 },
    who: 'anyone',
    makes: (job: JobRecord) => attentionVariation(job),
    origin: 'attention maps of',
  },
  /** commands/delete.ts */
  { id: 'delete', label: 'Delete', style: 'danger', rows: { imagine: 1, edit: 2, attention: 0, img2img: 1, grid: 3 }, who: 'author' },
  /** commands/queue.ts */
  { id: 'cancel', label: 'Cancel', style: 'danger', rows: { status: 0 }, who: 'author' },
] as const satisfies readonly ActionSpec[];

type Spec = (typeof ACTION_SPECS)[number];

/** The id of a button. */
export type ButtonAction = Spec['id'];
/** The buttons that make a job from the one they are under (also the origins of the jobs they make). */
export type JobAction = Extract<Spec, { makes: unknown }>['id'];

export const BUTTON_ACTIONS: readonly ButtonAction[] = ACTION_SPECS.map((spec) => spec.id);
export const JOB_ACTIONS: readonly JobAction[] = ACTION_SPECS.flatMap((spec) => ('makes' in spec ? [spec.id] : []));

const specs = new Map<string, ActionSpec>(ACTION_SPECS.map((spec) => [spec.id, spec]));

export function actionSpec(id: ButtonAction): ActionSpec {
  return specs.get(id)!;
}

/** The descriptor of an action id, if it is a button's. */
export const specOf = (id: string): ActionSpec | undefined => specs.get(id);

export const isJobAction = (action: string): action is JobAction => (JOB_ACTIONS as readonly string[]).includes(action);

/** The job a job-making button stands for, or undefined when it does not apply to this job. */
export function variationFor(action: JobAction, job: JobRecord, limits: BackendLimits): Variation | undefined {
  return actionSpec(action).makes?.(job, limits);
}

/** Under a queued or running job. */
export function statusRows(job: JobRecord, limits: BackendLimits): ButtonRow[] {
  return rowsFor('status', job, limits);
}

/** Under a finished job: a generation's, an edit's, a Vary's, attention maps' or a grid's buttons. */
export function resultRows(job: JobRecord, limits: BackendLimits): ButtonRow[] {
  if (job.origin === 'attention') return rowsFor('attention', job, limits);
  return rowsFor(job.request.kind === 'imagine-grid' ? 'grid' : job.request.kind, job, limits);
}

function rowsFor(surface: Surface, job: JobRecord, limits: BackendLimits): ButtonRow[] {
  const rows: Button[][] = [];
  if (surface === 'grid' && job.request.kind === 'imagine-grid') {
    const grid = job.request;
    for (const spec of ACTION_SPECS as readonly ActionSpec[]) {
      if (!spec.perCandidate) continue;
      const { row, label } = spec.perCandidate;
      candidatesOf(job).forEach((id, k) => {
        // The candidate's record as the store has it: a finished /imagine with seed+k.
        const candidate: JobRecord = { ...job, id, request: candidateRequest(grid, k), origin: 'grid', parentId: job.id, outcome: null };
        if (spec.makes && spec.makes(candidate, limits) === undefined) return;
        (rows[row] ??= []).push({ label: `${label}${k + 1}`, customId: customId(spec.id as ButtonAction, id), style: spec.style });
      });
    }
  }
  for (const spec of ACTION_SPECS as readonly ActionSpec[]) {
    const row = spec.rows[surface];
    if (row === undefined) continue;
    // A job-making button whose job does not apply (guidance already at its limit, say) is not shown.
    const label = spec.makes ? spec.makes(job, limits)?.label : spec.label;
    if (label === undefined) continue;
    (rows[row] ??= []).push({ label, customId: customId(spec.id as ButtonAction, job.id), style: spec.style });
  }
  return rows.filter((row) => row.length > 0);
}
