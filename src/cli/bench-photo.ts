/**
 * `reprompt bench`: an edit of a user's picture from end to end in the application's engine worker — preprocessing
 * and VAE encode, DDIM inversion (one UNet row per step), then the edit replaying the inversion (3 rows per step) —
 * and what is stored per picture. The picture is drawn here (a gradient with shapes), at the bench's size.
 */
import sharp from 'sharp';
import type { ImagineParams, InvertResult } from '../engine/jobs.js';
import { APP_HANDLERS_URL } from '../p2p/handlers-url.js';
import type { EditResult } from '../p2p/jobs.js';
import { photoEditJob, photoEditParams, photoId, photoInvertJob, type PhotoEditRequest } from '../p2p/photo-edit.js';
import { unetPerCall } from './bench-p2p.js';
import { ms, type BenchFigure, type BenchSection } from './bench-sections.js';

const kib = (label: string, bytes: number): BenchFigure => ({ label, value: bytes / 1024, unit: 'KiB' });

/** What the drawn picture shows, and the edit. */
const DESCRIPTION = 'a red house on a green hill under a blue sky';
const EDIT = 'house→castle';

/** A picture of `width`×`height`: sky, hill and a house, as a PNG. */
async function drawnPicture(width: number, height: number): Promise<Uint8Array> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="#6aa0e0"/>
    <ellipse cx="${width / 2}" cy="${height}" rx="${width * 0.8}" ry="${height * 0.45}" fill="#3c8a3c"/>
    <rect x="${width * 0.4}" y="${height * 0.45}" width="${width * 0.2}" height="${height * 0.2}" fill="#b03020"/>
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

const photoSection: BenchSection = {
  title: 'photo edit total (encode + inversion + edit), app engine worker',
  async run(context) {
    const { worker } = await context.engine(APP_HANDLERS_URL);
    const { params } = context;
    const picture = await drawnPicture(params.width, params.height);
    const request = (p: ImagineParams): PhotoEditRequest => ({ description: DESCRIPTION, negativePrompt: '', steps: p.steps, guidance: p.guidance, edit: EDIT });
    const run = async (p: ImagineParams): Promise<{ inverted: InvertResult; edited: EditResult; totalMs: number }> => {
      const started = performance.now();
      const editParams = photoEditParams(request(p), { id: photoId(picture), width: p.width, height: p.height });
      const inverted = await worker.run<InvertResult>(photoInvertJob(editParams, picture));
      const edited = await worker.run<EditResult>(photoEditJob(editParams, inverted));
      return { inverted, edited, totalMs: performance.now() - started };
    };
    await run({ ...params, steps: 1 }); // first-run allocations of both batch sizes
    const { inverted, edited, totalMs } = await run(params);
    return [
      ms('photo edit total (encode + inversion + edit, two worker jobs)', totalMs),
      ms('inversion job total (preprocess, VAE encode, UNet)', inverted.timings.totalMs),
      ms('VAE encode', inverted.timings.vaeMs),
      ms('inversion, UNet per call (1 row)', unetPerCall(inverted.timings)),
      ms('edit replaying the inversion, total', edited.timings.totalMs),
      ms('edit, UNet per call (3 rows)', unetPerCall(edited.timings)),
      kib('stored per picture: inversion trajectory (float32)', inverted.trajectory.data.byteLength),
      kib('stored per picture: preprocessed PNG', inverted.photo.png.byteLength),
    ];
  },
};

export const PHOTO_BENCH_SECTIONS: readonly BenchSection[] = [photoSection];
