/**
 * Edits of a user's own picture (Direct Inversion, Ju et al. 2024): the engine's `invert` job turns the photo and
 * its description into a DDIM-inversion trajectory, and the edit replays it as its source row (edit-runner: 3 UNet
 * rows, the source row ends on the photo's VAE round trip). The description is the edit's source prompt; the run
 * is DDIM's, whose timesteps the inversion walked. The CLI and the bot build their jobs here.
 */
import { createHash } from 'node:crypto';
import { UserError } from '../engine/errors.js';
import type { ImagineParams, InvertJob, InvertResult } from '../engine/jobs.js';
import type { SamplerName } from '../engine/schedulers/scheduler.js';
import { parseEdit } from './edit/language.js';
import type { EditJob, EditParams } from './jobs.js';

/** The sampler of every photo edit: the inversion follows DDIM's deterministic steps backwards. */
export const PHOTO_SAMPLER: SamplerName = 'ddim';

/** The id of a picture: the SHA-256 of its bytes, in hex. */
export function photoId(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The seed of a picture's source parameters: its id's first 64 bits. DDIM (eta 0) draws no noise from it and every
 * row starts from the trajectory, so it changes nothing in the image; it keeps the sources of two pictures with
 * the same description apart wherever a source is keyed by its parameters (the attention store's hot cache).
 */
export function photoSeed(id: string): string {
  return BigInt(`0x${id.slice(0, 16)}`).toString();
}

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

/** A picture as the edit sees it: its id (photoId) and its size as preprocessed. */
export interface PhotoRef {
  id: string;
  width: number;
  height: number;
}

/** The source parameters of the picture `photo` described by `request`. */
export function photoSource(request: PhotoEditRequest, photo: PhotoRef): ImagineParams {
  const { description, negativePrompt, steps, guidance } = request;
  return { prompt: description, negativePrompt, seed: photoSeed(photo.id), steps, guidance, width: photo.width, height: photo.height, sampler: PHOTO_SAMPLER };
}

/** The edit params of a photo edit (without the trajectory: the job carries that). */
export function photoEditParams(request: PhotoEditRequest, photo: PhotoRef): EditParams {
  const { description: _d, negativePrompt: _n, steps: _s, sampler: _sampler, ...edit } = request;
  return { ...edit, source: photoSource(request, photo), guidance: request.guidance, photo: photo.id };
}

/** The `invert` job of an edit of a picture (its params from photoEditParams): the picture at the source's size. */
export function photoInvertJob(params: EditParams, image: Uint8Array): InvertJob {
  const { prompt, steps, width, height } = params.source;
  return { kind: 'invert', image, prompt, steps, width, height };
}

/** The edit job that replays the picture's inversion as its source. */
export function photoEditJob(params: EditParams, inverted: Pick<InvertResult, 'trajectory'>, extra: Omit<EditJob, 'kind' | 'params' | 'sourceTrajectory'> = {}): EditJob {
  return { kind: 'edit', ...extra, params, sourceTrajectory: inverted.trajectory };
}
