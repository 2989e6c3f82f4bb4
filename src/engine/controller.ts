/**
 * The seam between the denoising loop (engine) and anything that steers it from the outside, such as
 * Prompt-to-Prompt (src/p2p). The engine knows nothing about attention editing: it only forwards extra UNet
 * inputs/outputs and lets the controller adjust latents after each sampler step.
 */
import type { Tensor } from 'onnxruntime-node';

/** What the loop tells the controller about the UNet batch it is about to run. */
export interface UNetCall {
  /** 0-based UNet evaluation counter (PNDM makes steps+1 evaluations; every evaluation counts). */
  index: number;
  /** Total number of UNet evaluations of the job. */
  count: number;
  /** The timestep fed to the UNet. */
  timestep: number;
  /** Prompt rows of the job (R). */
  rows: number;
  /** True when the batch has uncond rows (uncondRows is not empty). */
  cfg: boolean;
  /**
   * The prompt rows that have an uncond row (those of guidance ≠ 1), in batch order. The batch is
   * [uncond of uncondRows[0], uncond of uncondRows[1], …, cond row 0, …, cond row R−1]: uncond item i is at batch
   * index i, cond row r at uncondRows.length + r.
   */
  uncondRows: readonly number[];
  /** UNet batch size: uncondRows.length + R. */
  batch: number;
  /** Latent spatial size. */
  latentHeight: number;
  latentWidth: number;
}

export interface DenoiseController {
  /** Extra inputs for this UNet call (e.g. attention-control tensors). */
  unetFeeds?(call: UNetCall): Record<string, Tensor>;
  /** Names of extra UNet outputs to fetch on this call. */
  unetFetches?(call: UNetCall): readonly string[];
  /** Receives the extra outputs fetched on this call. */
  onUnetOutputs?(call: UNetCall, outputs: Record<string, Tensor>): void;
  /**
   * Runs after the sampler step of call `call.index`, with the new latents of all rows ([R, C, h, w] flat).
   * May return replaced latents (Prompt-to-Prompt local blending). `latentSize` = C·h·w.
   */
  afterStep?(call: UNetCall, latents: Float32Array, latentSize: number): Float32Array | void;
}
