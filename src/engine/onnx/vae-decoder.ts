/**
 * The VAE decoder: one (already unscaled) latent [1, C, h, w] → image [1, 3, H, W], roughly in [-1, 1].
 * Latents go through one at a time, as in diffusers' ONNX pipeline (half-precision decoders misbehave at batch > 1).
 */
import type { InferenceSession } from 'onnxruntime-node';
import { createSession, inspectOrRelease } from './session.js';
import { findInput, findOutput, floatTensor, floatType, readFloat, type FloatType, type TensorSpec } from './io.js';

export interface DecodedImage {
  /** [3, height, width] planar, float32. */
  data: Float32Array;
  height: number;
  width: number;
  /** Time inside session.run(). */
  runMs: number;
}

export class VaeDecoder {
  private constructor(
    private readonly session: InferenceSession,
    readonly file: string,
    private readonly latent: TensorSpec & { type: FloatType },
    private readonly image: TensorSpec,
  ) {}

  static async load(file: string, options: InferenceSession.SessionOptions): Promise<VaeDecoder> {
    const session = await createSession(file, options);
    return inspectOrRelease(session, () => {
      const latent = findInput(session, file, { names: ['latent_sample'], like: (s) => s.shape.length === 4, role: 'latent' });
      const image = findOutput(session, file, { names: ['sample'], like: (s) => s.shape.length === 4, role: 'image' });
      return new VaeDecoder(session, file, { ...latent, type: floatType(file, latent) }, image);
    });
  }

  /** Decodes one latent; `dims` = [1, C, h, w]. */
  async decode(latent: Float32Array, dims: readonly [number, number, number, number]): Promise<DecodedImage> {
    const start = performance.now();
    const outputs = await this.session.run({ [this.latent.name]: floatTensor(this.latent.type, latent, dims) }, [this.image.name]);
    const runMs = performance.now() - start;
    const output = outputs[this.image.name];
    const [, , height, width] = output.dims;
    return { data: readFloat(output, this.file, this.image.name), height, width, runMs };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
