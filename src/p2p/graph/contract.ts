/**
 * The attention-control contract between the patched UNet graph and the Prompt-to-Prompt runtime: the names,
 * shapes and meaning of the extra inputs and outputs, the layer metadata, and the neutral controls.
 *
 * N = UNet batch, K = text length, L = number of attention layers, i = layer index in graph order.
 *   p2p_source_index int64 [N]   per batch row, its source row in Concat([P4_i, p2p_ext_i], axis 0)
 *   p2p_cross_on     bool  []    apply the cross edit in this call
 *   p2p_cross_weight f32 [N,K,K] W;  p2p_cross_keep f32 [N,K] D
 *   p2p_self_on      bool  [L]   layer i replaces self-attention (ignored for cross layers)
 *   p2p_self_rows    bool  [N]   rows that take their source's self-attention
 *   p2p_ext_<i>      f32 [E,H,Q,K] external source rows (E may be 0)
 *   p2p_capture_on   bool  [L]   layer i outputs full probabilities
 *   p2p_capture_rows int64 [C];  p2p_map_rows int64 [M]
 * Outputs: p2p_probs_<i> f32 [C,H,Q,K] (0 rows unless capture_on[i]); p2p_map_<i> f32 [M,Q,K] for cross layers
 * (head mean). Per layer, with P4 = probabilities as [N,H,Q,K] and src = Gather(Concat([P4, ext_i]), source_index):
 *   cross: out = cross_on ? MatMul(src, W[:,None]) + P4 ⊙ D[:,None,None,:] : P4
 *   self:  out = self_on[i] ? Where(self_rows[:,None,None,None], src, P4) : P4
 */
import { Tensor } from 'onnxruntime-node';
import type { AttentionSite } from './find-attention.js';

/**
 * Bump whenever the patched graph or the metadata changes (the engine's flexible-size patch, which the loader also
 * applies, included), so that cached patches are rebuilt.
 */
export const PATCHER_VERSION = 2;

export const P2P_INPUT = {
  sourceIndex: 'p2p_source_index',
  crossOn: 'p2p_cross_on',
  crossWeight: 'p2p_cross_weight',
  crossKeep: 'p2p_cross_keep',
  selfOn: 'p2p_self_on',
  selfRows: 'p2p_self_rows',
  captureOn: 'p2p_capture_on',
  captureRows: 'p2p_capture_rows',
  mapRows: 'p2p_map_rows',
} as const;

export const extInputName = (layer: number): string => `p2p_ext_${layer}`;
export const probsOutputName = (layer: number): string => `p2p_probs_${layer}`;
export const mapOutputName = (layer: number): string => `p2p_map_${layer}`;

/** A patched attention layer: what the graph says of its site, plus what the probe run measured. */
export interface AttentionLayer extends Pick<AttentionSite, 'index' | 'name' | 'kind' | 'place' | 'block' | 'layout'> {
  heads: number;
  /**
   * A self-attention layer that runs ONNX Runtime's fused attention whenever its self_on and capture_on are off
   * (explicit, and exact, whenever either is on). Cross-attention layers are never fused: maps read them.
   */
  fused: boolean;
  /** log4(h·w / Q): 0 = full latent resolution, 1 = half, … */
  level: number;
}

export interface PatchedUNetMeta {
  version: number;
  sourceSha256: string;
  textLength: number;
  layers: AttentionLayer[];
  /** The UNet's own float type (its `sample` input); the contract's float tensors are float32 regardless. */
  floatType: 'float32' | 'float16';
}

/**
 * Controls that leave the UNet's output exactly as unpatched and cost nothing: every row is its own source, no
 * edit or capture is switched on, no rows are captured or mapped, and the external rows are empty. W = identity
 * and D = 0 keep even a stray `cross_on` harmless.
 */
export function neutralControlFeeds(meta: PatchedUNetMeta, batch: number): Record<string, Tensor> {
  return neutralFeedsFor(meta.layers.length, meta.textLength, batch);
}

/** neutralControlFeeds for a patched graph known only by its layer count (before the probe). */
export function neutralFeedsFor(layerCount: number, textLength: number, batch: number): Record<string, Tensor> {
  const K = textLength;
  const weight = new Float32Array(batch * K * K);
  for (let row = 0; row < batch; row++) for (let k = 0; k < K; k++) weight[row * K * K + k * K + k] = 1;
  const feeds: Record<string, Tensor> = {
    [P2P_INPUT.sourceIndex]: new Tensor('int64', BigInt64Array.from({ length: batch }, (_, i) => BigInt(i)), [batch]),
    [P2P_INPUT.crossOn]: new Tensor('bool', new Uint8Array(1), []),
    [P2P_INPUT.crossWeight]: new Tensor('float32', weight, [batch, K, K]),
    [P2P_INPUT.crossKeep]: new Tensor('float32', new Float32Array(batch * K), [batch, K]),
    [P2P_INPUT.selfOn]: new Tensor('bool', new Uint8Array(layerCount), [layerCount]),
    [P2P_INPUT.selfRows]: new Tensor('bool', new Uint8Array(batch), [batch]),
    [P2P_INPUT.captureOn]: new Tensor('bool', new Uint8Array(layerCount), [layerCount]),
    [P2P_INPUT.captureRows]: new Tensor('int64', new BigInt64Array(0), [0]),
    [P2P_INPUT.mapRows]: new Tensor('int64', new BigInt64Array(0), [0]),
  };
  // The graph reshapes external rows to [-1, H, Q, K] before use, so an empty tensor of any shape will do.
  for (let i = 0; i < layerCount; i++) feeds[extInputName(i)] = new Tensor('float32', new Float32Array(0), [0, 0, 0, 0]);
  return feeds;
}
