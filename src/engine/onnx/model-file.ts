/**
 * Reading an ONNX graph file into memory (to patch it) and opening it from memory against its original folder:
 * what the engine's size patch and Prompt-to-Prompt's attention patch both do.
 */
import { readFile } from 'node:fs/promises';
import type { InferenceSession } from 'onnxruntime-node';
import { errorMessage, UserError } from '../errors.js';
import { decodeModel, type ModelProto } from '../graph/onnx-model.js';

/** The first line of an error's message (protobufjs and fs errors can run to several). */
const reason = (e: unknown): string => errorMessage(e).trim().split('\n')[0];

/** The file's bytes and its decoded model; UserError('model') naming the file when it cannot be read or decoded. */
export async function readOnnxModel(path: string): Promise<{ bytes: Uint8Array; model: ModelProto }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new UserError('model', `Cannot read the model file ${path} (${reason(e)}).`);
  }
  try {
    return { bytes, model: decodeModel(bytes) };
  } catch (e) {
    throw new UserError('model', `${path} is not a readable ONNX model (${reason(e)}).`);
  }
}

/**
 * Session options for a graph opened from memory: such a graph has no folder of its own, so ONNX Runtime is told
 * where its external weights are (the folder of the original file).
 */
export function withExternalWeightsFolder(options: InferenceSession.SessionOptions, folder: string): InferenceSession.SessionOptions {
  const extra = options.extra ?? {};
  const session = (extra.session ?? {}) as Record<string, unknown>;
  return { ...options, extra: { ...extra, session: { ...session, model_external_initializers_file_folder_path: folder } } };
}
