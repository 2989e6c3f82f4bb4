/**
 * Patching as a whole: the on-disk cache, UNets with external weights, exports without module scopes, and the
 * graphs the patch must refuse (fused attention, no attention, already patched).
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { isUserError } from '../src/engine/errors.js';
import { defaultCacheDir } from '../src/p2p/graph/cache.js';
import { createFlexibleUNetSession } from '../src/engine/onnx/flexible-size.js';
import { type AttentionLayer, mapOutputName, probsOutputName } from '../src/p2p/graph/contract.js';
import { AttentionPatchLoader, type PatchedUNet } from '../src/p2p/graph/loader.js';
import { onnx } from '../src/engine/graph/onnx-model.js';
import { patchUNetGraph } from '../src/p2p/graph/patch.js';
import { maxAbsDiff } from './helpers.js';
import { fusedAttentionUNet, withExternalWeights } from './p2p-graph-fixtures.js';
import { FUSED_TOLERANCE, LAYOUTS, removeTempDirs, sessionOptions, tempDir, unetInputs } from './p2p-graph-helpers.js';

const tinyUNet = LAYOUTS[0].path;

afterAll(removeTempDirs);

describe('patched UNet cache', () => {
  test('the second load reuses the cached patch instead of patching again', async () => {
    const cacheDir = tempDir('p2p-graph-cache');
    const first = new AttentionPatchLoader({ cacheDir });
    await (await first.load(tinyUNet, sessionOptions)).session.release();
    expect(first.lastLoad?.fromCache).toBe(false);
    const files = readdirSync(cacheDir).sort();
    expect(files).toHaveLength(2);
    const [sidecar, model] = files.map((f) => join(cacheDir, f));
    expect(sidecar.endsWith('.json') && model.endsWith('.onnx')).toBe(true);
    const written = statSync(model).mtimeMs;

    const second = new AttentionPatchLoader({ cacheDir });
    await (await second.load(tinyUNet, sessionOptions)).session.release();
    expect(second.lastLoad?.fromCache).toBe(true);
    expect(second.meta).toEqual(first.meta);
    expect(statSync(model).mtimeMs).toBe(written);
    expect(readdirSync(cacheDir)).toHaveLength(2);
  });

  test('an unreadable sidecar is rebuilt', async () => {
    const cacheDir = tempDir('p2p-graph-cache');
    await (await new AttentionPatchLoader({ cacheDir }).load(tinyUNet, sessionOptions)).session.release();
    const sidecar = readdirSync(cacheDir).find((f) => f.endsWith('.json')) as string;
    writeFileSync(join(cacheDir, sidecar), '{"meta": ');
    const loader = new AttentionPatchLoader({ cacheDir });
    await (await loader.load(tinyUNet, sessionOptions)).session.release();
    expect(loader.lastLoad?.fromCache).toBe(false);
    expect(JSON.parse(readFileSync(join(cacheDir, sidecar), 'utf8')).meta.layers).toHaveLength(32);
  });

  test('a cache folder that cannot be written does not stop the load', async () => {
    const blocker = join(tempDir('p2p-graph-cache'), 'a-file');
    writeFileSync(blocker, '');
    const loader = new AttentionPatchLoader({ cacheDir: join(blocker, 'cache') });
    await (await loader.load(tinyUNet, sessionOptions)).session.release();
    expect(loader.meta?.layers).toHaveLength(32);
    expect(loader.lastLoad?.cacheError).toBeDefined();
  });

  describe('default folder', () => {
    const saved = { cache: process.env.REPROMPT_CACHE_DIR, xdg: process.env.XDG_CACHE_HOME };
    afterEach(() => {
      restoreEnv('REPROMPT_CACHE_DIR', saved.cache);
      restoreEnv('XDG_CACHE_HOME', saved.xdg);
    });

    test('is REPROMPT_CACHE_DIR, else $XDG_CACHE_HOME/reprompt, else ~/.cache/reprompt', () => {
      process.env.REPROMPT_CACHE_DIR = join('some', 'cache');
      process.env.XDG_CACHE_HOME = join('xdg', 'home');
      expect(defaultCacheDir()).toBe(join('some', 'cache'));
      delete process.env.REPROMPT_CACHE_DIR;
      expect(defaultCacheDir()).toBe(join('xdg', 'home', 'reprompt'));
      delete process.env.XDG_CACHE_HOME;
      expect(defaultCacheDir()).toBe(join(homedir(), '.cache', 'reprompt'));
    });
  });
});

test('a UNet with external weights is patched without copying them, and runs from the cache', async () => {
  const unetDir = join(tempDir('p2p-external'), 'unet');
  mkdirSync(unetDir);
  const path = withExternalWeights(readFileSync(tinyUNet), unetDir);
  const cacheDir = tempDir('p2p-graph-cache');
  const inputs = unetInputs([91, 92], 16);
  const original = await InferenceSession.create(tinyUNet, sessionOptions);
  const expected = (await original.run(inputs)).out_sample.data as Float32Array;
  await original.release();

  for (const fromCache of [false, true]) {
    const loader = new AttentionPatchLoader({ cacheDir });
    const { session, neutralFeeds } = await loader.load(path, sessionOptions);
    expect(loader.lastLoad?.fromCache).toBe(fromCache);
    const actual = (await session.run({ ...inputs, ...neutralFeeds(2) }, ['out_sample'])).out_sample.data as Float32Array;
    expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(FUSED_TOLERANCE);
    await session.release();
  }
  const cached = readdirSync(cacheDir).find((f) => f.endsWith('.onnx')) as string;
  expect(statSync(join(cacheDir, cached)).size).toBeLessThan(statSync(join(unetDir, 'model.onnx_data')).size / 4);
});

test('an export without module scopes in its node names is placed from its resolutions', () => {
  const model = onnx.ModelProto.decode(readFileSync(tinyUNet));
  for (const node of model.graph?.node ?? []) node.name = '';
  const unnamed = patchUNetGraph(onnx.ModelProto.encode(model).finish()).layers;
  const named = patchUNetGraph(readFileSync(tinyUNet)).layers;
  const placement = (layers: typeof named) => layers.map(({ kind, place, block, layout }) => ({ kind, place, block, layout }));
  expect(placement(unnamed)).toEqual(placement(named));
});

describe('graphs the patch refuses', () => {
  test('fused attention (com.microsoft MultiHeadAttention) → a model error asking for an un-optimised export', async () => {
    const bytes = fusedAttentionUNet({ fused: true });
    const error = captureError(() => patchUNetGraph(bytes));
    expect(isUserError(error) && error.code).toBe('model');
    expect(String((error as Error).message)).toMatch(/MultiHeadAttention.*un-optimised export.*optimum-cli export onnx/);

    const unetDir = tempDir('p2p-fused');
    writeFileSync(join(unetDir, 'model.onnx'), bytes);
    await expect(new AttentionPatchLoader({ cacheDir: tempDir('p2p-graph-cache') }).load(join(unetDir, 'model.onnx'), sessionOptions)).rejects.toMatchObject({
      name: 'UserError',
      code: 'model',
    });
  });

  test('a UNet without any attention Softmax → a model error', () => {
    const error = captureError(() => patchUNetGraph(fusedAttentionUNet({ fused: false })));
    expect(isUserError(error) && error.code).toBe('model');
    expect(String((error as Error).message)).toMatch(/No attention Softmax.*un-optimised export/);
  });

  test('an already patched UNet → a model error', () => {
    const once = patchUNetGraph(readFileSync(tinyUNet)).bytes;
    const error = captureError(() => patchUNetGraph(once));
    expect(isUserError(error) && error.code).toBe('model');
  });
});

describe('the loaded session', () => {
  let loaded: PatchedUNet;
  let layers: AttentionLayer[];
  beforeAll(async () => {
    const loader = new AttentionPatchLoader({ cacheDir: tempDir('p2p-graph-cache') });
    loaded = await loader.load(tinyUNet, sessionOptions);
    layers = loader.meta?.layers ?? [];
  });
  afterAll(() => loaded?.session.release());

  test('has the contract’s inputs and outputs, and neutral feeds for exactly the inputs it adds', () => {
    const { session, neutralFeeds } = loaded;
    const unetInputNames = ['sample', 'timestep', 'encoder_hidden_states'];
    expect(Object.keys(neutralFeeds(3)).sort()).toEqual(session.inputNames.filter((n) => !unetInputNames.includes(n)).sort());
    const crossLayers = layers.filter((l) => l.kind === 'cross');
    const expectedOutputs = ['out_sample', ...layers.map((l) => probsOutputName(l.index)), ...crossLayers.map((l) => mapOutputName(l.index))];
    expect([...session.outputNames].sort()).toEqual(expectedOutputs.sort());
  });

  test('runs latent sizes that are not multiples of 8, as the engine’s default UNet loader does', async () => {
    const inputs = unetInputs([93, 94], 20);
    const plain = await createFlexibleUNetSession(tinyUNet, sessionOptions);
    const expected = (await plain.run(inputs)).out_sample.data as Float32Array;
    await plain.release();
    const actual = (await loaded.session.run({ ...inputs, ...loaded.neutralFeeds(2) }, ['out_sample'])).out_sample.data as Float32Array;
    expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(FUSED_TOLERANCE);
  });
});

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
