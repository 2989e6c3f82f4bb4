/**
 * The model folder: a diffusers/optimum ONNX export of a Stable Diffusion 1.x/2.x pipeline. Everything is checked
 * up front so that a broken folder fails at load with a message naming the file, not in the middle of a job.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { errorMessage, UserError } from './errors.js';
import { samplerForConfig } from './schedulers/index.js';
import type { SamplerName, SchedulerConfig } from './schedulers/scheduler.js';

export type ModelComponent = 'textEncoder' | 'unet' | 'vaeDecoder' | 'vaeEncoder';

export interface ModelPaths {
  modelIndex?: string;
  schedulerConfig: string;
  tokenizer: string;
  textEncoder: string;
  unet: string;
  vaeDecoder: string;
  vaeEncoder?: string;
  /** External weight files next to a component's graph (optimum: model.onnx_data; diffusers script: weights.pb). */
  externalData: Partial<Record<ModelComponent, string>>;
}

export interface ModelInfo {
  /** Absolute folder path. */
  dir: string;
  /** The folder's name, shown in image metadata. */
  name: string;
  paths: ModelPaths;
  schedulerConfig: SchedulerConfig;
  /** Latents are divided by this before VAE decoding (vae_decoder/config.json, default 0.18215). */
  scalingFactor: number;
  /** Image pixels per latent pixel (2^(VAE levels − 1), default 8). */
  vaeScaleFactor: number;
  /** unet/config.json in_channels when present; otherwise the UNet graph's metadata decides. */
  latentChannels?: number;
  /** The sampler that scheduler_config.json describes. */
  defaultSampler: SamplerName;
}

const EXTERNAL_DATA_FILES = ['model.onnx_data', 'weights.pb'];
const DEFAULT_SCALING_FACTOR = 0.18215;

export async function loadModelInfo(dir: string): Promise<ModelInfo> {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new UserError('model', `Model folder ${root} does not exist: expected a folder with an ONNX Stable Diffusion export.`);
  }
  const modelIndex = optionalFile(root, 'model_index.json');
  if (modelIndex) checkPipelineClass(modelIndex, readJson(modelIndex));

  const schedulerConfigPath = requiredFile(root, 'scheduler/scheduler_config.json', 'the scheduler configuration');
  const schedulerConfig = readJson(schedulerConfigPath) as SchedulerConfig;
  const tokenizer = join(root, 'tokenizer');
  requiredFile(root, 'tokenizer/vocab.json', 'the CLIP tokenizer vocabulary');
  requiredFile(root, 'tokenizer/merges.txt', 'the CLIP tokenizer merges');

  const paths: ModelPaths = {
    modelIndex,
    schedulerConfig: schedulerConfigPath,
    tokenizer,
    textEncoder: requiredFile(root, 'text_encoder/model.onnx', 'the text encoder graph'),
    unet: requiredFile(root, 'unet/model.onnx', 'the UNet graph'),
    vaeDecoder: requiredFile(root, 'vae_decoder/model.onnx', 'the VAE decoder graph'),
    vaeEncoder: optionalFile(root, 'vae_encoder/model.onnx'),
    externalData: {},
  };
  for (const component of ['textEncoder', 'unet', 'vaeDecoder', 'vaeEncoder'] as const) {
    const graph = paths[component];
    const data = graph && EXTERNAL_DATA_FILES.map((name) => join(dirname(graph), name)).find((file) => existsSync(file));
    if (data) paths.externalData[component] = data;
  }

  const vaeConfig = componentConfig(root, 'vae_decoder');
  const unetConfig = componentConfig(root, 'unet');
  return {
    dir: root,
    name: basename(root),
    paths,
    schedulerConfig,
    scalingFactor: positiveNumber(vaeConfig, 'scaling_factor') ?? DEFAULT_SCALING_FACTOR,
    vaeScaleFactor: vaeScaleFactor(vaeConfig.values),
    latentChannels: positiveNumber(unetConfig, 'in_channels'),
    defaultSampler: samplerForConfig(schedulerConfig, schedulerConfigPath),
  };
}

/** SDXL/SD3-style pipelines have more text encoders and other UNet inputs; say so instead of failing later. */
function checkPipelineClass(file: string, index: Record<string, unknown>): void {
  if ('text_encoder_2' in index || 'transformer' in index) {
    throw new UserError('model', `${file}: pipeline ${String(index._class_name)} is not supported (expected a Stable Diffusion 1.x/2.x pipeline).`);
  }
}

interface ComponentConfig {
  file: string;
  /** The parsed file, or {} when the export has none. */
  values: Record<string, unknown>;
}

function componentConfig(root: string, component: string): ComponentConfig {
  const file = join(root, component, 'config.json');
  return { file, values: existsSync(file) ? readJson(file) : {} };
}

function vaeScaleFactor(vaeConfig: Record<string, unknown>): number {
  const levels = vaeConfig.block_out_channels;
  return Array.isArray(levels) && levels.length > 0 ? 2 ** (levels.length - 1) : 8;
}

function positiveNumber(config: ComponentConfig, key: string): number | undefined {
  const value = config.values[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new UserError('model', `${config.file}: "${key}" is ${JSON.stringify(value)}; expected a positive number.`);
  }
  return value;
}

function requiredFile(root: string, relative: string, what: string): string {
  const file = join(root, relative);
  if (!existsSync(file)) throw new UserError('model', `${file} is missing: expected ${what} there.`);
  return file;
}

function optionalFile(root: string, relative: string): string | undefined {
  const file = join(root, relative);
  return existsSync(file) ? file : undefined;
}

function readJson(file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError('model', `${file} could not be read as JSON (${errorMessage(e)}).`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UserError('model', `${file}: expected a JSON object.`);
  }
  return value as Record<string, unknown>;
}
