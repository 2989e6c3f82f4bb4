/**
 * The source trajectory of an image: its latents along the denoising run. It is all an edit needs of its source
 * (the source row is replayed from it instead of being guided), and it is small enough to store with the job.
 */
import { UserError } from './errors.js';

/** Latents of one image along its denoising run: entry 0 = what the denoising loop starts from, entry k = after
 *  loop step k (one entry per UNet evaluation of the run, +1). Flat float32, [entries, C, h, w]. */
export interface Trajectory { data: Float32Array; shape: [number, number, number, number]; }

/** Latent size C·h·w of one entry. */
export function entrySize(t: Trajectory): number {
  return t.shape[1] * t.shape[2] * t.shape[3];
}

/** Entry `k` (a view, not a copy). */
export function trajectoryEntry(t: Trajectory, k: number): Float32Array {
  const size = entrySize(t);
  if (!Number.isInteger(k) || k < 0 || k >= t.shape[0]) throw new RangeError(`trajectory entry ${k} of ${t.shape[0]}`);
  return t.data.subarray(k * size, (k + 1) * size);
}

/**
 * Throws UserError('bad_input') unless `t` is a well-formed trajectory of `unetCalls` UNet evaluations at this
 * latent shape [C, h, w] (a trajectory of another run cannot be replayed).
 */
export function checkTrajectory(t: Trajectory, unetCalls: number, latent: readonly [number, number, number]): void {
  const [entries, c, h, w] = t.shape;
  if (t.data.length !== entries * c * h * w) {
    throw new UserError('bad_input', `The source trajectory holds ${t.data.length} values, its shape [${t.shape.join(', ')}] needs ${entries * c * h * w}.`);
  }
  if (entries !== unetCalls + 1 || c !== latent[0] || h !== latent[1] || w !== latent[2]) {
    throw new UserError(
      'bad_input',
      `The source trajectory [${t.shape.join(', ')}] does not fit this run: it needs [${unetCalls + 1}, ${latent.join(', ')}] ` +
        '(the source image was made with other steps, sampler or size).',
    );
  }
}

/** Collects one prompt row's latents, entry by entry, during a denoising run. */
export class TrajectoryRecorder {
  private readonly data: Float32Array;
  private entries = 0;

  constructor(
    private readonly capacity: number,
    private readonly latentShape: readonly [number, number, number],
    private readonly row: number,
  ) {
    this.data = new Float32Array(capacity * latentShape[0] * latentShape[1] * latentShape[2]);
  }

  /** Appends the recorded row of `latents` ([rows, C, h, w]). */
  add(latents: Float32Array): void {
    if (this.entries >= this.capacity) throw new Error(`TrajectoryRecorder: more than ${this.capacity} entries`);
    const size = this.data.length / this.capacity;
    this.data.set(latents.subarray(this.row * size, (this.row + 1) * size), this.entries * size);
    this.entries++;
  }

  /** The trajectory; every entry must have been added. */
  finish(): Trajectory {
    if (this.entries !== this.capacity) throw new Error(`TrajectoryRecorder: ${this.entries} of ${this.capacity} entries recorded`);
    const [c, h, w] = this.latentShape;
    return { data: this.data, shape: [this.capacity, c, h, w] };
  }
}
