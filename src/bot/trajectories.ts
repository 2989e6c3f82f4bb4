/**
 * Source trajectories kept with the bot's jobs, so that any later edit of an image (after a restart, on another
 * worker) replays its source instead of generating it again: every generation asks the engine for its
 * trajectory; an edit gets its source's trajectory put into the job (3 UNet rows instead of 4), and an edit whose
 * source had none keeps the one it generated.
 *
 * Keyed by what the trajectory depends on: the model and the source's parameters as requested (the bot builds an
 * edit's source from the image's own request, so the two keys are the same).
 */
import type { ImagineJob, ImagineParams, ImagineResult } from '../engine/jobs.js';
import { normalizeSeed } from '../engine/noise.js';
import type { Trajectory } from '../engine/trajectory.js';
import type { EditJob, EditParams, EditResult } from '../p2p/jobs.js';
import type { JobStore } from './store.js';

/** 512 MiB: about 390 SD 1.5 images at 512² of 20 steps (1.3 MiB each in float32). */
export const DEFAULT_TRAJECTORY_BUDGET_BYTES = 512 * 1024 * 1024;

export function trajectoryKey(model: string, p: ImagineParams): string {
  return JSON.stringify([model, p.prompt, p.negativePrompt, normalizeSeed(p.seed), p.steps, p.guidance, p.width, p.height, p.sampler ?? null]);
}

/**
 * The key of an edit's source: a generated image's parameters, or a user's picture (its inversion depends on the
 * picture, its description, the steps and the size only; generations can never share such a key).
 */
export function sourceKey(model: string, p: EditParams): string {
  if (p.photo === undefined) return trajectoryKey(model, p.source);
  const { prompt, steps, width, height } = p.source;
  return JSON.stringify([model, 'photo', p.photo, prompt, steps, width, height]);
}

export class TrajectoryKeeper {
  constructor(
    private readonly store: JobStore,
    private readonly model: string,
    /** Total bytes of latents kept; 0 keeps none (every edit then generates its source in the batch). */
    private readonly budgetBytes: number,
  ) {}

  /** The job to run for a generation: it also returns its trajectory (when any are kept). */
  imagineJob(job: ImagineJob): ImagineJob {
    return this.budgetBytes > 0 ? { ...job, returnTrajectory: true } : job;
  }

  /** The job to run for an edit: with its source's trajectory when one is kept. */
  editJob(job: EditJob): EditJob {
    if (job.sourceTrajectory || this.budgetBytes === 0) return job;
    const trajectory = this.store.getTrajectory(sourceKey(this.model, job.params));
    return trajectory ? { ...job, sourceTrajectory: trajectory } : job;
  }

  /** Keeps the trajectory a job produced: a generation's own, or the source an edit had to generate. */
  keep(job: ImagineJob | EditJob, result: ImagineResult | EditResult): void {
    if (this.budgetBytes === 0) return;
    if (job.kind === 'imagine' && result.kind === 'imagine' && result.trajectory) {
      this.store.putTrajectory(trajectoryKey(this.model, job.params), result.trajectory, this.budgetBytes);
    } else if (job.kind === 'edit' && result.kind === 'edit' && result.sourceTrajectory) {
      this.store.putTrajectory(sourceKey(this.model, job.params), result.sourceTrajectory, this.budgetBytes);
    }
  }

  /** Keeps the inversion of the picture an edit (`params`) starts from. */
  keepInversion(params: EditParams, trajectory: Trajectory): void {
    if (this.budgetBytes > 0) this.store.putTrajectory(sourceKey(this.model, params), trajectory, this.budgetBytes);
  }
}
