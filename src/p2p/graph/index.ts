/** Attention control inside exported ONNX UNets: the public surface of src/p2p/graph. */
export { AttentionPatchLoader, type LoadReport, type PatchedUNet } from './loader.js';
export { patchUNetGraph, patchUNetModel, type PatchResult, type PatchedLayer } from './patch.js';
export {
  type AttentionLayer,
  type PatchedUNetMeta,
  PATCHER_VERSION,
  P2P_INPUT,
  extInputName,
  mapOutputName,
  neutralControlFeeds,
  probsOutputName,
} from './contract.js';
export { defaultCacheDir } from './cache.js';
export type { AttentionKind, AttentionLayout, AttentionPlace } from './find-attention.js';
