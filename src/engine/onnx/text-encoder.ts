/** The CLIP text encoder: token ids → last_hidden_state (what SD feeds the UNet as encoder_hidden_states). */
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { createSession, inspectOrRelease } from './session.js';
import { findInput, findOutput, readFloat, unsupportedType, type TensorSpec } from './io.js';

export interface TextEmbeddings {
  /** [rows, sequenceLength, hiddenSize], row-major. */
  data: Float32Array;
  dims: [number, number, number];
  /** Time inside session.run(). */
  runMs: number;
}

export class ClipTextEncoder {
  private constructor(
    private readonly session: InferenceSession,
    readonly file: string,
    private readonly ids: TensorSpec,
    private readonly hidden: TensorSpec,
  ) {}

  static async load(file: string, options: InferenceSession.SessionOptions): Promise<ClipTextEncoder> {
    const session = await createSession(file, options);
    return inspectOrRelease(session, () => {
      const ids = findInput(session, file, { names: ['input_ids'], like: (s) => s.type.startsWith('int'), role: 'token-id' });
      if (ids.type !== 'int32' && ids.type !== 'int64') throw unsupportedType(file, ids, 'int32 or int64');
      const hidden = findOutput(session, file, { names: ['last_hidden_state'], like: (s) => s.shape.length === 3, role: 'hidden-state' });
      return new ClipTextEncoder(session, file, ids, hidden);
    });
  }

  /** Encodes rows of equal-length token ids in one batch. */
  async encode(rows: readonly Int32Array[]): Promise<TextEmbeddings> {
    const length = rows[0].length;
    const flat = new Int32Array(rows.length * length);
    rows.forEach((row, i) => flat.set(row, i * length));
    const dims = [rows.length, length];
    const input =
      this.ids.type === 'int64' ? new Tensor('int64', BigInt64Array.from(flat, (id) => BigInt(id)), dims) : new Tensor('int32', flat, dims);
    const start = performance.now();
    const outputs = await this.session.run({ [this.ids.name]: input }, [this.hidden.name]);
    const runMs = performance.now() - start;
    const output = outputs[this.hidden.name];
    const [batch, sequence, width] = output.dims;
    return { data: readFloat(output, this.file, this.hidden.name), dims: [batch, sequence, width], runMs };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
