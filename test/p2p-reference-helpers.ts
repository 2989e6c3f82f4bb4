/** The reference Prompt-to-Prompt cases (diffusers' community Prompt2PromptPipeline on the bundled weights) as edit jobs. */
import type { EditJob } from '../src/p2p/jobs.js';
import type { ReferenceArray } from './engine-helpers.js';
import { referenceCases } from './helpers.js';
import { REFERENCE_SAMPLERS } from './schedulers-reference.js';

export interface P2PCase {
  id: string;
  scheduler: string;
  prompts: [string, string];
  cross_attention_kwargs: { n_cross_replace: number; n_self_replace: number; equalizer_words?: string[]; equalizer_strengths?: number[]; local_blend_words?: string[] };
  final_latents: ReferenceArray;
  images_png: [string, string];
}
export interface P2PCases {
  p2p: { seed: number; height: number; width: number; steps: number; guidance_scale: number; cases: P2PCase[] };
}

export const reference = referenceCases<P2PCases>().p2p;

/** The reference case as one of our edit jobs: the edit is the full target prompt, weights and blend words as options. */
export function referenceEditJob(c: P2PCase, size = { width: reference.width, height: reference.height }): EditJob {
  const kw = c.cross_attention_kwargs;
  return {
    kind: 'edit',
    sourceImage: true,
    returnLatents: true,
    params: {
      source: {
        prompt: c.prompts[0],
        negativePrompt: '',
        seed: String(reference.seed),
        steps: reference.steps,
        guidance: reference.guidance_scale,
        sampler: REFERENCE_SAMPLERS[c.scheduler],
        ...size,
      },
      edit: c.prompts[1] === c.prompts[0] ? '' : c.prompts[1],
      weights: kw.equalizer_words?.map((word, i) => ({ word, weight: kw.equalizer_strengths![i] })),
      blend: kw.local_blend_words,
      cross: kw.n_cross_replace,
      self: kw.n_self_replace,
    },
  };
}
