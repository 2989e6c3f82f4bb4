/**
 * AttentionPatchLoader: the engine's UNet loader for Prompt-to-Prompt. It opens a UNet export patched with the
 * attention-control contract, patching and probing it once per model and caching the result on disk.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InferenceSession, type Tensor } from 'onnxruntime-node';
import { errorMessage, UserError } from '../../engine/errors.js';
import { makeUpsamplingSizeExactInModel } from '../../engine/onnx/flexible-size.js';
import { readOnnxModel, withExternalWeightsFolder } from '../../engine/onnx/model-file.js';
import { type CachedPatch, PatchCache, defaultCacheDir, sha256File } from './cache.js';
import { type AttentionLayer, PATCHER_VERSION, type PatchedUNetMeta, neutralControlFeeds } from './contract.js';
import { DataType, type ModelProto, decodeModel, encodeModel } from '../../engine/graph/onnx-model.js';
import { patchUNetModel } from './patch.js';
import { probeLayers } from './probe.js';

export interface PatchedUNet {
  session: InferenceSession;
  /** Controls that leave the UNet's output unchanged, for calls that edit and capture nothing. */
  neutralFeeds(batch: number): Record<string, Tensor>;
}

export interface LoadReport {
  /** True when the patched graph came from the cache, false when it was patched and probed in this load. */
  fromCache: boolean;
  /** Wall time of the whole load, session creation included. */
  ms: number;
  /** Why the patch could not be written to the cache (the load still succeeded; the next one patches again). */
  cacheError?: string;
}

export class AttentionPatchLoader {
  private readonly cache: PatchCache;
  private loaded: PatchedUNetMeta | undefined;
  private report: LoadReport | undefined;

  /**
   * `fuseSelfAttention` (default true): self-attention layers run ONNX Runtime's fused attention in the calls
   * where no control reads them (contract.ts, AttentionLayer.fused); false keeps every layer explicit (the
   * reference graph for benchmarks and tests). The two are cached separately.
   */
  constructor(opts: { cacheDir?: string; fuseSelfAttention?: boolean } = {}) {
    this.fuse = opts.fuseSelfAttention ?? true;
    this.cache = new PatchCache(opts.cacheDir ?? defaultCacheDir(), this.fuse ? 'fused' : 'explicit');
  }

  private readonly fuse: boolean;

  /** Metadata of the last loaded UNet. */
  get meta(): PatchedUNetMeta | undefined {
    return this.loaded;
  }

  get lastLoad(): LoadReport | undefined {
    return this.report;
  }

  async load(unetModelPath: string, options: InferenceSession.SessionOptions = {}): Promise<PatchedUNet> {
    const started = performance.now();
    if (!existsSync(unetModelPath)) throw new UserError('model', `The UNet model file ${unetModelPath} does not exist.`);
    const weightsDir = resolve(dirname(unetModelPath));
    const sourceSha256 = await sha256File(unetModelPath);
    const cached = this.cache.read(sourceSha256);
    const { session, meta, cacheError } = cached
      ? { session: await openCached(cached, weightsDir, options), meta: cached.meta, cacheError: undefined }
      : await this.patchProbeAndCache(unetModelPath, sourceSha256, weightsDir, options);
    this.loaded = meta;
    this.report = { fromCache: !!cached, ms: performance.now() - started, ...(cacheError ? { cacheError } : {}) };
    return { session, neutralFeeds: (batch) => neutralControlFeeds(meta, batch) };
  }

  private async patchProbeAndCache(
    unetModelPath: string,
    sourceSha256: string,
    weightsDir: string,
    options: InferenceSession.SessionOptions,
  ): Promise<{ session: InferenceSession; meta: PatchedUNetMeta; cacheError?: string }> {
    const { bytes: original, model } = await readOnnxModel(unetModelPath);
    const patch = { ...patchUNetModel(flexible(model)), bytes: encodeModel(model) };
    const open = (bytes: Uint8Array): Promise<InferenceSession> =>
      InferenceSession.create(bytes, patch.externalData ? withExternalWeightsFolder(options, weightsDir) : options);
    let session = await open(patch.bytes);
    let layers: AttentionLayer[];
    let bytes = patch.bytes;
    try {
      layers = await probeLayers(session, patch.io, patch.layers);
      if (this.fuse) {
        // Fusing needs each layer's heads, which the probe of the explicit patch has just measured.
        const fusedModel = flexible(decodeModel(original));
        const fused = patchUNetModel(fusedModel, { fuseSelfAttention: { heads: layers.map((l) => l.heads) } });
        if (fused.layers.some((l) => l.fused)) {
          bytes = encodeModel(fusedModel);
          await session.release();
          session = await open(bytes);
          layers = layers.map((layer, i) => ({ ...layer, fused: fused.layers[i].fused }));
        }
      }
    } catch (e) {
      await session.release();
      throw e;
    }
    const meta: PatchedUNetMeta = {
      version: PATCHER_VERSION,
      sourceSha256,
      textLength: patch.io.text.length,
      layers,
      floatType: patch.io.sample.elemType === DataType.FLOAT16 ? 'float16' : 'float32',
    };
    try {
      await this.cache.write(bytes, { meta, externalData: patch.externalData });
      return { session, meta };
    } catch (e) {
      // A cache folder that cannot be written must not stop generation: it only costs the next load a re-patch.
      return { session, meta, cacheError: errorMessage(e) };
    }
  }
}

/** The same size flexibility as the engine's default UNet loader: any latent size runs, not only multiples of 8. */
function flexible(model: ModelProto): ModelProto {
  makeUpsamplingSizeExactInModel(model);
  return model;
}

/**
 * A patched graph with inline weights opens from its cache path. One with external weights opens from a Buffer
 * with the original folder as its external-data folder, because ORT resolves external files relative to the
 * model's own folder otherwise.
 */
async function openCached(entry: CachedPatch, weightsDir: string, options: InferenceSession.SessionOptions): Promise<InferenceSession> {
  if (!entry.externalData) return InferenceSession.create(entry.modelPath, options);
  return InferenceSession.create(await readFile(entry.modelPath), withExternalWeightsFolder(options, weightsDir));
}
