/**
 * The one place that creates ONNX Runtime sessions: execution provider, thread counts, optimisation level, and
 * the mapping of load failures to UserErrors (a provider that cannot start vs. a model file that cannot load).
 * There is no silent fallback to the CPU: asking for CUDA and getting the CPU would be a 50× surprise.
 */
import { availableParallelism } from 'node:os';
import { InferenceSession } from 'onnxruntime-node';
import { errorMessage, UserError } from '../errors.js';
import { disableOrtTelemetry } from '../ort-telemetry.js';

export const PROVIDERS = ['cpu', 'cuda', 'webgpu'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export interface SessionSettings {
  provider?: ProviderName;
  /** Threads inside one operator (default: defaultIntraOpThreads()). */
  intraOpThreads?: number;
  /** Threads across independent operators. */
  interOpThreads?: number;
  /** GPU index for 'cuda'. */
  deviceId?: number;
}

const PROVIDER_FIX: Record<Exclude<ProviderName, 'cpu'>, string> = {
  cuda:
    'The CUDA provider needs the CUDA libraries of onnxruntime-node, which `npm ci` skips: run ' +
    '`ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --dangerously-allow-all-scripts` (README "GPU"), ' +
    'and have the CUDA 12 runtime and cuDNN 9 libraries on the library path.',
  webgpu: 'The WebGPU provider needs a Vulkan loader (libvulkan1) and a GPU driver with Vulkan support.',
};

export function sessionOptions(settings: SessionSettings = {}): InferenceSession.SessionOptions {
  disableOrtTelemetry();
  const provider = settings.provider ?? 'cpu';
  if (!PROVIDERS.includes(provider)) {
    throw new UserError('provider', `Unknown execution provider "${provider}": expected one of ${PROVIDERS.join(', ')}.`);
  }
  const options: InferenceSession.SessionOptions = {
    executionProviders: [provider === 'cuda' ? { name: 'cuda', deviceId: settings.deviceId ?? 0 } : provider],
    graphOptimizationLevel: 'all',
  };
  options.intraOpNumThreads = positiveThreads('intraOpThreads', settings.intraOpThreads ?? defaultIntraOpThreads());
  if (settings.interOpThreads !== undefined) options.interOpNumThreads = positiveThreads('interOpThreads', settings.interOpThreads);
  return options;
}

/**
 * One intra-op thread per core this process may use: left to itself, ONNX Runtime 1.30 was seen running the UNet
 * on one busy thread on a 2-core machine. The CPU arena and memory patterns stay at ORT's defaults (on): with the
 * arena off a UNet call was slower and peaked higher; memory patterns off measured within the noise.
 */
export function defaultIntraOpThreads(): number {
  return availableParallelism();
}

function positiveThreads(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new UserError('bad_input', `${name} must be a whole number ≥ 1, got ${value}.`);
  return value;
}

/** Creates a session from a model file, turning load failures into UserErrors that name the file or the provider. */
export async function createSession(file: string, options: InferenceSession.SessionOptions): Promise<InferenceSession> {
  try {
    return await InferenceSession.create(file, options);
  } catch (e) {
    throw sessionLoadError(file, options, e);
  }
}

/**
 * Reads what a wrapper needs from a new session (`inspect` checks its inputs and outputs) and releases the session
 * when that throws: a model rejected after loading must not keep its weights in memory. The check's error wins
 * over a failure to release.
 */
export async function inspectOrRelease<T>(session: InferenceSession, inspect: () => T): Promise<T> {
  try {
    return inspect();
  } catch (e) {
    await session.release().catch(() => undefined);
    throw e;
  }
}

const PROVIDER_FAILURE = /ExecutionProvider|shared library|providers_|WebGPU|adapter|Vulkan|CUDA|cuDNN|CUBLAS/i;

/**
 * The UserError for a session that failed to load `file` (a path, or a description for models loaded from memory):
 * 'provider' when the execution provider could not start, 'model' otherwise. Exported for custom UNet loaders.
 */
export function sessionLoadError(file: string, options: InferenceSession.SessionOptions, error: unknown): UserError {
  const message = ortMessage(errorMessage(error));
  const provider = providerName(options);
  if (provider !== 'cpu' && PROVIDER_FAILURE.test(message)) {
    return new UserError('provider', `The ${provider} execution provider could not start (${message}). ${PROVIDER_FIX[provider]}`);
  }
  return new UserError('model', `${file}: ONNX Runtime could not load this model (${message}).`);
}

function providerName(options: InferenceSession.SessionOptions): ProviderName {
  const first = options.executionProviders?.[0];
  const name = typeof first === 'string' ? first : first?.name;
  return name === 'cuda' || name === 'webgpu' ? name : 'cpu';
}

/** The first line of ORT's message, without the "<source>:<line> <function> <condition> was false." of a failed check. */
function ortMessage(text: string): string {
  const line = text.trim().split('\n')[0].trim();
  return line.split(' was false. ').pop()!;
}
