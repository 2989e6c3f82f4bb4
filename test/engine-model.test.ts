import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelInfo } from '../src/engine/model.js';
import { createSession, sessionOptions } from '../src/engine/onnx/session.js';
import { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import { caseParams, TEST_SESSIONS, txt2imgCases } from './engine-helpers.js';
import { tinyModelDir } from './helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'reprompt-model-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * A copy of the tiny model whose files are symlinks to the real ones, except `replaced` (relative path → new
 * content, or null to leave the file out).
 */
function brokenCopy(name: string, replaced: Record<string, string | null>): string {
  const root = join(scratch, name);
  const copy = (relative: string): void => {
    for (const entry of readdirSync(join(tinyModelDir, relative), { withFileTypes: true })) {
      const path = relative ? join(relative, entry.name) : entry.name;
      if (entry.isDirectory()) {
        mkdirSync(join(root, path), { recursive: true });
        copy(path);
      } else if (path in replaced) {
        if (replaced[path] !== null) writeFileSync(join(root, path), replaced[path]!);
      } else {
        symlinkSync(join(tinyModelDir, path), join(root, path));
      }
    }
  };
  mkdirSync(root);
  copy('');
  return root;
}

const modelError = (file: RegExp) => expect.objectContaining({ name: 'UserError', code: 'model', message: expect.stringMatching(file) });

describe('model folder', () => {
  test('reads the tiny model', async () => {
    const info = await loadModelInfo(tinyModelDir);
    expect(info.name).toBe('tiny-sd15');
    expect(info.defaultSampler).toBe('pndm');
    expect(info.scalingFactor).toBe(0.18215);
    expect(info.vaeScaleFactor).toBe(8);
    expect(info.schedulerConfig._class_name).toBe('PNDMScheduler');
    expect(info.paths.unet).toBe(join(tinyModelDir, 'unet', 'model.onnx'));
    expect(info.paths.vaeEncoder).toBe(join(tinyModelDir, 'vae_encoder', 'model.onnx'));
    expect(info.paths.externalData).toEqual({});
  });

  test('reads component configs and external weight files when present', async () => {
    const dir = brokenCopy('with-configs', {});
    writeFileSync(join(dir, 'vae_decoder', 'config.json'), JSON.stringify({ scaling_factor: 0.13025, block_out_channels: [32, 64] }));
    writeFileSync(join(dir, 'unet', 'model.onnx_data'), '');
    const info = await loadModelInfo(dir);
    expect(info.scalingFactor).toBe(0.13025);
    expect(info.vaeScaleFactor).toBe(2);
    expect(info.paths.externalData).toEqual({ unet: join(dir, 'unet', 'model.onnx_data') });
  });

  test('a missing folder or file is named', async () => {
    await expect(loadModelInfo(join(scratch, 'nowhere'))).rejects.toEqual(modelError(/nowhere does not exist/));
    const dir = brokenCopy('no-unet', { 'unet/model.onnx': null });
    await expect(loadModelInfo(dir)).rejects.toEqual(modelError(/unet\/model\.onnx is missing: expected the UNet graph/));
  });

  test('broken JSON is named', async () => {
    const dir = brokenCopy('broken-json', { 'scheduler/scheduler_config.json': '{"_class_name": "PNDMScheduler",' });
    await expect(loadModelInfo(dir)).rejects.toEqual(modelError(/scheduler_config\.json could not be read as JSON/));
    const badIndex = brokenCopy('broken-index', { 'model_index.json': 'not json' });
    await expect(loadModelInfo(badIndex)).rejects.toEqual(modelError(/model_index\.json could not be read as JSON/));
  });

  test('a scheduler class we do not implement is named', async () => {
    const dir = brokenCopy('unknown-scheduler', { 'scheduler/scheduler_config.json': JSON.stringify({ _class_name: 'DDPMScheduler' }) });
    await expect(loadModelInfo(dir)).rejects.toEqual(modelError(/scheduler_config\.json: scheduler class "DDPMScheduler" is not supported/));
  });

  test('a graph ONNX Runtime cannot parse is named at load', async () => {
    const dir = brokenCopy('garbage-unet', { 'unet/model.onnx': 'this is not an ONNX file' });
    await expect(StableDiffusionPipeline.load(dir, TEST_SESSIONS)).rejects.toEqual(
      modelError(/unet\/model\.onnx(: ONNX Runtime could not load this model| is not a readable ONNX model)/),
    );
  });

  test('a provider that cannot start is a provider error naming the fix', async () => {
    let error: unknown;
    try {
      const session = await createSession(join(tinyModelDir, 'vae_decoder', 'model.onnx'), sessionOptions({ provider: 'cuda' }));
      await session.release();
    } catch (e) {
      error = e;
    }
    // Only a host with the CUDA provider libraries installed gets a session; everywhere else the error must say why.
    if (error !== undefined) {
      expect(error).toEqual(expect.objectContaining({ code: 'provider', message: expect.stringContaining('ONNXRUNTIME_NODE_INSTALL=cuda12') }));
    }
    expect(() => sessionOptions({ provider: 'tpu' as 'cpu' })).toThrow(/Unknown execution provider "tpu"/);
  });
});

describe('validate', () => {
  let pipeline: StableDiffusionPipeline;
  beforeAll(async () => {
    pipeline = await StableDiffusionPipeline.load(tinyModelDir, TEST_SESSIONS);
  });
  afterAll(() => pipeline?.release());

  const valid = caseParams(txt2imgCases()[0]);
  const rejects = (change: Partial<typeof valid>, code: string, message: RegExp): void => {
    expect(() => pipeline.validate({ ...valid, ...change })).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
  };

  test('accepts a reference case', () => {
    expect(() => pipeline.validate(valid)).not.toThrow();
    expect(() => pipeline.validate({ ...valid, guidance: -5, sampler: undefined, prompt: 'word '.repeat(100) })).not.toThrow();
  });

  test('rejects bad parameters with clear messages', () => {
    rejects({ width: 250 }, 'bad_input', /^Width 250 is not supported: expected a multiple of 8 from 64 to 2048 pixels\.$/);
    rejects({ height: 4096 }, 'bad_input', /^Height 4096 is not supported/);
    rejects({ steps: 0 }, 'bad_input', /^Steps 0 is not supported: expected a whole number from 1 to 150\.$/);
    rejects({ guidance: NaN }, 'bad_input', /^Guidance NaN is not a finite number/);
    rejects({ sampler: 'heun' as 'ddim' }, 'bad_input', /^Unknown sampler "heun"/);
    rejects({ prompt: '   ' }, 'bad_prompt', /prompt is empty/);
    rejects({ prompt: 'a cat\u0000 on a mat' }, 'bad_prompt', /^The prompt contains a control character \(U\+0000\) at character 6/);
    rejects({ negativePrompt: 'blurry \uE000' }, 'bad_prompt', /^The negative prompt contains a private-use character \(U\+E000\)/);
    rejects({ seed: '-1' }, 'bad_input', /Seed/);
  });

  test('denoise checks its request too', async () => {
    const request = { rows: [{ prompt: 'a cat', negativePrompt: '', guidance: 7.5 }], seed: '1', steps: 2, width: 64, height: 60 };
    await expect(pipeline.denoise(request)).rejects.toEqual(expect.objectContaining({ code: 'bad_input', message: expect.stringMatching(/^Height 60/) }));
    await expect(pipeline.denoise({ ...request, height: 64, rows: [] })).rejects.toEqual(expect.objectContaining({ code: 'bad_input' }));
  });
});
