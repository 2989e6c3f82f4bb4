/**
 * The DenoiseController that drives the patched UNet for Prompt-to-Prompt: per UNet call it feeds the edit's
 * controls, captures what it was asked to (the source branch for the attention store, cross-attention maps for
 * LocalBlend and heat maps), and blends latents after each sampler step.
 *
 * Plain generation uses it too (no plan): neutral controls, maps captured for the heat-map grid.
 */
import type { Tensor } from 'onnxruntime-node';
import type { DenoiseController, UNetCall } from '../../engine/controller.js';
import { checkTrajectory, trajectoryEntry, type Trajectory } from '../../engine/trajectory.js';
import type { LocalBlend, LayerMaps } from '../blend.js';
import { controlsForCall, type CallControls, type EditPlan } from '../edit/controls.js';
import { levelSize, replacedSelfLayers, type SelfThreshold } from '../edit/schedule.js';
import { mapOutputName, probsOutputName, type PatchedUNetMeta } from '../graph/contract.js';
import type { AttentionAccumulator } from '../heatmap.js';
import type { SourceCallTrace, SourceTrace } from '../store.js';
import { controlFeeds, controlFetches, type CaptureRequest, type MapRequest } from './feeds.js';

export interface AttentionControllerOptions {
  meta: PatchedUNetMeta;
  /** The edit; undefined for a plain generation (only maps are captured). */
  plan?: EditPlan;
  /**
   * Re-edit: the source branch is not in the batch; its probabilities, maps and latents come from this trace
   * (recorded by an earlier edit of the same source image).
   */
  replay?: SourceTrace;
  /**
   * The source row (prompt row 0, in the batch, run cond only) follows this trajectory: after every step its
   * latents are overwritten by the stored ones, before LocalBlend reads them.
   */
  trajectory?: Trajectory;
  /** First edit: record the source branch (prompt row 0) for later re-edits. */
  record?: { prompt: string; blendLevel: number; selfThreshold: SelfThreshold };
  blend?: LocalBlend;
  /** Accumulate the head-averaged maps of one prompt row at `level` for the heat-map grid. */
  heatmap?: { accumulator: AttentionAccumulator; promptRow: number; level: number };
}

export class AttentionController implements DenoiseController {
  private readonly crossLayers: number[];
  private trace: SourceTrace | undefined;
  private current: { call: UNetCall; capture?: CaptureRequest; maps?: MapRequest } | undefined;
  private neutral: CallControls | undefined;

  constructor(private readonly options: AttentionControllerOptions) {
    this.crossLayers = options.meta.layers.filter((l) => l.kind === 'cross').map((l) => l.index);
    const { replay, blend } = options;
    if (replay && blend && replay.blendLevel !== blend.mapLevel) {
      throw new Error(`AttentionController: the replayed source trace has its blend maps at level ${replay.blendLevel}, LocalBlend reads level ${blend.mapLevel}`);
    }
  }

  /** The recorded source trace, complete once the job has finished (undefined when not recording). */
  get recorded(): SourceTrace | undefined {
    return this.trace;
  }

  private get sourceInBatch(): boolean {
    return this.options.replay === undefined;
  }

  /** The capture and map requests of a call, made once whichever of feeds/fetches the loop asks for first. */
  private prepare(call: UNetCall): { call: UNetCall; capture?: CaptureRequest; maps?: MapRequest } {
    if (this.current?.call !== call) {
      const condStart = call.uncondRows.length;
      this.current = { call, capture: this.captureRequest(call, condStart), maps: this.mapRequest(call, condStart) };
    }
    return this.current;
  }

  unetFeeds(call: UNetCall): Record<string, Tensor> {
    const { meta, plan } = this.options;
    const controls = plan ? controlsForCall(plan, call, meta.layers, { sourceInBatch: this.sourceInBatch }) : this.neutralControls(call.batch);
    const { capture, maps } = this.prepare(call);
    const external = this.replayed(call)?.probs;
    return controlFeeds(meta, call.batch, controls, capture, maps, external, (level) => levelSize(call.latentHeight, call.latentWidth, level).query);
  }

  unetFetches(call: UNetCall): readonly string[] {
    const { capture, maps } = this.prepare(call);
    return controlFetches(capture, maps);
  }

  /** The replayed source's trace of this call; it must come from a run of the same length and latent size. */
  private replayed(call: UNetCall): SourceCallTrace | undefined {
    const replay = this.options.replay;
    if (!replay) return undefined;
    if (replay.perCall.length !== call.count || replay.latentHeight !== call.latentHeight || replay.latentWidth !== call.latentWidth) {
      throw new Error(
        `AttentionController: the replayed source trace has ${replay.perCall.length} UNet calls at a ${replay.latentHeight}×${replay.latentWidth} latent, ` +
          `this run makes ${call.count} at ${call.latentHeight}×${call.latentWidth}`,
      );
    }
    return replay.perCall[call.index];
  }

  /** Plain generation's controls: the same for every call of a batch size, so built once. */
  private neutralControls(batch: number): CallControls {
    if (this.neutral?.sourceIndex.length !== batch) this.neutral = makeNeutralControls(batch, this.options.meta.textLength, this.options.meta.layers.length);
    return this.neutral;
  }

  /** Recording: the cond source row on every cross layer and on the self layers an edit may replace. */
  private captureRequest(call: UNetCall, condStart: number): CaptureRequest | undefined {
    const record = this.options.record;
    if (!record) return undefined;
    const selfLayers = replacedSelfLayers(this.options.meta.layers, record.selfThreshold, call.latentHeight, call.latentWidth);
    return { rows: [condStart], layers: this.options.meta.layers.map((l, i) => l.kind === 'cross' || selfLayers[i]) };
  }

  /** Maps of every cond prompt row at the levels LocalBlend, the heat map and the recording read. */
  private mapRequest(call: UNetCall, condStart: number): MapRequest | undefined {
    const levels = new Set<number>();
    if (this.options.blend) levels.add(this.options.blend.mapLevel);
    if (this.options.heatmap) levels.add(this.options.heatmap.level);
    if (this.options.record) levels.add(this.options.record.blendLevel);
    if (levels.size === 0) return undefined;
    const layers = this.crossLayers.filter((i) => levels.has(this.options.meta.layers[i].level));
    return { rows: Array.from({ length: call.rows }, (_, r) => condStart + r), layers };
  }

  onUnetOutputs(call: UNetCall, outputs: Record<string, Tensor>): void {
    const { meta, blend, heatmap, record } = this.options;
    const current = this.current;
    if (!current || current.call !== call) throw new Error('AttentionController: outputs of a call it did not prepare');
    const q = (level: number): number => levelSize(call.latentHeight, call.latentWidth, level).query;
    const layerMaps: LayerMaps[] = (current.maps?.layers ?? []).map((i) => {
      const level = meta.layers[i].level;
      return { level, q: q(level), data: outputs[mapOutputName(i)].data as Float32Array };
    });
    const k = meta.textLength;
    if (blend) blend.addMaps(layerMaps, this.replayed(call)?.blendMap ?? undefined);
    if (heatmap) {
      // Prompt rows in the batch are shifted by one on a re-edit (the source is not there).
      const row = heatmap.promptRow - (this.sourceInBatch ? 0 : 1);
      for (const m of layerMaps) if (m.level === heatmap.level) heatmap.accumulator.add(m.level, m.data.subarray(row * m.q * k, (row + 1) * m.q * k));
    }
    if (record && current.capture) {
      this.trace ??= { prompt: record.prompt, blendLevel: record.blendLevel, latentHeight: call.latentHeight, latentWidth: call.latentWidth, perCall: [] };
      const probs = current.capture.layers.map((on, i) => (on ? (outputs[probsOutputName(i)].data as Float32Array) : null));
      this.trace.perCall[call.index] = { probs, blendMap: meanSourceMap(layerMaps, record.blendLevel, k), latents: new Float32Array(0) };
    }
  }

  afterStep(call: UNetCall, latents: Float32Array, latentSize: number): Float32Array | void {
    const { blend, trajectory } = this.options;
    if (trajectory) {
      if (call.index === 0) checkTrajectory(trajectory, call.count, [latentSize / (call.latentHeight * call.latentWidth), call.latentHeight, call.latentWidth]);
      latents.set(trajectoryEntry(trajectory, call.index + 1)); // prompt row 0 is the source
    }
    const traced: SourceCallTrace | undefined = this.trace?.perCall[call.index];
    if (traced) traced.latents = latents.slice(0, latentSize); // prompt row 0 is the source: never blended
    if (!blend) return;
    return blend.apply(latents, latentSize, call.latentHeight, call.latentWidth, this.replayed(call)?.latents);
  }
}

/** Every row its own source, nothing switched on. */
function makeNeutralControls(batch: number, k: number, layers: number): CallControls {
  return {
    sourceIndex: BigInt64Array.from({ length: batch }, (_, i) => BigInt(i)),
    crossOn: false,
    crossWeight: new Float32Array(batch * k * k),
    crossKeep: new Float32Array(batch * k).fill(1),
    selfOn: new Uint8Array(layers),
    selfRows: new Uint8Array(batch),
  };
}

/** The layer mean of prompt row 0's maps at `level` ([q, K]), what a re-edit's LocalBlend needs of the source. */
function meanSourceMap(layerMaps: readonly LayerMaps[], level: number, k: number): Float32Array | null {
  const at = layerMaps.filter((m) => m.level === level);
  if (at.length === 0) return null;
  const size = at[0].q * k;
  const mean = new Float32Array(size);
  for (const m of at) for (let i = 0; i < size; i++) mean[i] += m.data[i] / at.length;
  return mean;
}
