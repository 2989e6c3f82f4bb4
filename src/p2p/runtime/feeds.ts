/**
 * Wraps the pure control data of one UNet call (src/p2p/edit/controls.ts) and the runtime's capture choices into
 * the tensors of the patched UNet's attention-control contract (src/p2p/graph/contract.ts).
 */
import { Tensor } from 'onnxruntime-node';
import type { CallControls } from '../edit/controls.js';
import { extInputName, mapOutputName, P2P_INPUT, probsOutputName, type PatchedUNetMeta } from '../graph/contract.js';

export interface CaptureRequest {
  /** Batch rows whose full probabilities are output on the layers flagged in `layers`. */
  rows: readonly number[];
  /** Per layer (graph order): output its probabilities this call. */
  layers: readonly boolean[];
}

export interface MapRequest {
  /** Batch rows whose head-averaged cross-attention maps are output. */
  rows: readonly number[];
  /** Cross layers whose maps to fetch. */
  layers: readonly number[];
}

const int64 = (values: readonly number[] | BigInt64Array): Tensor => {
  const data = values instanceof BigInt64Array ? values : BigInt64Array.from(values, (v) => BigInt(v));
  return new Tensor('int64', data, [data.length]);
};
const bools = (values: ArrayLike<number | boolean>): Tensor => {
  const data = Uint8Array.from(values, (v) => (v ? 1 : 0));
  return new Tensor('bool', data, [data.length]);
};

/** Feeds for one call. `external[i]` is layer i's external source rows [E, H, Q, K] data (E = 0 when absent). */
export function controlFeeds(
  meta: PatchedUNetMeta,
  batch: number,
  controls: CallControls,
  capture: CaptureRequest | undefined,
  maps: MapRequest | undefined,
  external: readonly (Float32Array | null)[] | undefined,
  levelQuery: (level: number) => number,
): Record<string, Tensor> {
  const k = meta.textLength;
  const feeds: Record<string, Tensor> = {
    [P2P_INPUT.sourceIndex]: int64(controls.sourceIndex),
    [P2P_INPUT.crossOn]: new Tensor('bool', Uint8Array.of(controls.crossOn ? 1 : 0), []),
    [P2P_INPUT.crossWeight]: new Tensor('float32', controls.crossWeight, [batch, k, k]),
    [P2P_INPUT.crossKeep]: new Tensor('float32', controls.crossKeep, [batch, k]),
    [P2P_INPUT.selfOn]: bools(controls.selfOn),
    [P2P_INPUT.selfRows]: bools(controls.selfRows),
    [P2P_INPUT.captureOn]: bools(capture ? capture.layers : new Uint8Array(meta.layers.length)),
    [P2P_INPUT.captureRows]: int64(capture ? capture.rows : []),
    [P2P_INPUT.mapRows]: int64(maps ? maps.rows : []),
  };
  for (const layer of meta.layers) {
    const data = external?.[layer.index];
    if (data) {
      const q = levelQuery(layer.level);
      const keys = layer.kind === 'cross' ? k : q;
      feeds[extInputName(layer.index)] = new Tensor('float32', data, [data.length / (layer.heads * q * keys), layer.heads, q, keys]);
    } else {
      feeds[extInputName(layer.index)] = new Tensor('float32', new Float32Array(0), [0, layer.heads, 0, 0]);
    }
  }
  return feeds;
}

/** Output names to fetch for a call. */
export function controlFetches(capture: CaptureRequest | undefined, maps: MapRequest | undefined): string[] {
  const names: string[] = [];
  capture?.layers.forEach((on, i) => on && names.push(probsOutputName(i)));
  maps?.layers.forEach((i) => names.push(mapOutputName(i)));
  return names;
}
