/** Latents of one image along its denoising run: entry 0 = what the denoising loop starts from, entry k = after
 *  loop step k (one entry per UNet evaluation of the run, +1). Flat float32, [entries, C, h, w]. */
export interface Trajectory { data: Float32Array; shape: [number, number, number, number]; }
