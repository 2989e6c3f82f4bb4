/**
 * Edits of a user's own picture (Direct Inversion, Ju et al. 2024): the engine's `invert` job turns the photo and
 * its description into a DDIM-inversion trajectory, and the edit replays it as its source row (edit-runner: 3 UNet
 * rows, the source row ends on the photo's VAE round trip). The description is the edit's source prompt; the run
 * is DDIM's, whose timesteps the inversion walked. The CLI and the bot build their jobs here.
 */
import { UserError } from '../engine/errors.js';
import type { ImagineParams, InvertResult } from '../engine/jobs.js';
import type { SamplerName } from '../engine/schedulers/scheduler.js';
import { parseEdit } from './edit/language.js';
import type { EditJob, EditParams } from './jobs.js';

/** The sampler of every photo edit: the inversion follows DDIM's deterministic steps backwards. */
export const PHOTO_SAMPLER: SamplerName = 'ddim';

/** The seed of a photo's source: unused (DDIM with eta 0 draws no noise; every row starts from the trajectory). */
const PHOTO_SEED = '0';

/** Throws UserError unless `sampler` is absent or DDIM (cheap: call it before anything is loaded or queued). */
export function checkPhotoSampler(sampler: SamplerName | undefined): void {
  if (sampler !== undefined && sampler !== PHOTO_SAMPLER) {
    throw new UserError(
      'bad_input',
      `Edits of your own pictures use the ${PHOTO_SAMPLER} sampler (the picture is inverted along its steps); ${sampler} cannot replay that. Leave the sampler out.`,
    );
  }
}

/** What a photo edit is asked for, before the photo is inverted. */
export interface PhotoEditRequest extends Omit<EditParams, 'source'> {
  /** What the picture shows: the edit's source prompt (a swap needs its word in it). */
  description: string;
  negativePrompt: string;
  steps: number;
  /** Guidance of the edited row (the source row is conditional only). */
  guidance: number;
  sampler?: SamplerName;
}

/**
 * Checks what can be checked before the photo is decoded or inverted: the sampler, and the edit against the
 * description (a swapped word missing from it, a typo in the edit language). Throws UserError.
 */
export function checkPhotoEdit(request: PhotoEditRequest): void {
  checkPhotoSampler(request.sampler);
  if (request.description.trim() === '') {
    throw new UserError('bad_prompt', 'The description is empty: describe what the picture shows (the edit changes words of it).');
  }
  parseEdit({ source: request.description, edit: request.edit, weights: request.weights, blend: request.blend });
}

/** The source parameters of a photo of `width`×`height` pixels (as preprocessed) described by `request`. */
export function photoSource(request: PhotoEditRequest, size: { width: number; height: number }): ImagineParams {
  const { description, negativePrompt, steps, guidance } = request;
  return { prompt: description, negativePrompt, seed: PHOTO_SEED, steps, guidance, width: size.width, height: size.height, sampler: PHOTO_SAMPLER };
}

/** The edit params of a photo edit (without the trajectory: the job carries that). */
export function photoEditParams(request: PhotoEditRequest, size: { width: number; height: number }): EditParams {
  const { description: _d, negativePrompt: _n, steps: _s, sampler: _sampler, ...edit } = request;
  return { ...edit, source: photoSource(request, size), guidance: request.guidance };
}

/** The edit job that replays the photo's inversion as its source. */
export function photoEditJob(
  request: PhotoEditRequest,
  inverted: Pick<InvertResult, 'trajectory' | 'photo'>,
  extra: Omit<EditJob, 'kind' | 'params' | 'sourceTrajectory'> = {},
): EditJob {
  return { kind: 'edit', ...extra, params: photoEditParams(request, inverted.photo), sourceTrajectory: inverted.trajectory };
}
