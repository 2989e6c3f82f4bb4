/**
 * On-disk cache of patched UNet graphs, keyed by the sha256 of the original graph file and the patcher version.
 * Each entry is the patched graph plus a JSON sidecar with the layer metadata; both are written atomically
 * (temp file + rename) and the sidecar last, so a reader never sees half an entry.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PATCHER_VERSION, type PatchedUNetMeta } from './contract.js';

/** REPROMPT_CACHE_DIR, else $XDG_CACHE_HOME/reprompt, else ~/.cache/reprompt. */
export function defaultCacheDir(): string {
  if (process.env.REPROMPT_CACHE_DIR) return process.env.REPROMPT_CACHE_DIR;
  if (process.env.XDG_CACHE_HOME) return join(process.env.XDG_CACHE_HOME, 'reprompt');
  return join(homedir(), '.cache', 'reprompt');
}

/** Streams the file, so that graphs of any size hash in constant memory. */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export interface CachedPatch {
  meta: PatchedUNetMeta;
  /** The patched graph still reads its weights from the original model's folder. */
  externalData: boolean;
  modelPath: string;
}

type Sidecar = Omit<CachedPatch, 'modelPath'>;

/** Which patch of a graph: self-attention fused where no control reads it, or every attention explicit. */
export type PatchVariant = 'fused' | 'explicit';

export class PatchCache {
  constructor(
    readonly dir: string,
    readonly variant: PatchVariant = 'fused',
  ) {}

  private paths(sourceSha256: string): { model: string; sidecar: string } {
    const base = join(this.dir, `p2p-unet-${sourceSha256}-v${PATCHER_VERSION}-${this.variant}`);
    return { model: `${base}.onnx`, sidecar: `${base}.json` };
  }

  /** The entry for this source graph, if a complete one of this patcher version exists. */
  read(sourceSha256: string): CachedPatch | undefined {
    const { model, sidecar } = this.paths(sourceSha256);
    if (!existsSync(sidecar) || !existsSync(model)) return undefined;
    try {
      const entry = JSON.parse(readFileSync(sidecar, 'utf8')) as Sidecar;
      const { meta } = entry;
      if (meta?.version !== PATCHER_VERSION || meta.sourceSha256 !== sourceSha256 || !Array.isArray(meta.layers)) return undefined;
      return { ...entry, modelPath: model };
    } catch {
      return undefined; // an unreadable sidecar is rebuilt like a missing one
    }
  }

  async write(bytes: Uint8Array, entry: Sidecar): Promise<CachedPatch> {
    await mkdir(this.dir, { recursive: true });
    const { model, sidecar } = this.paths(entry.meta.sourceSha256);
    await writeAtomically(model, bytes);
    await writeAtomically(sidecar, JSON.stringify(entry, null, 1));
    return { ...entry, modelPath: model };
  }
}

async function writeAtomically(path: string, data: Uint8Array | string): Promise<void> {
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}
