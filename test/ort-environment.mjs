/**
 * Jest's node environment with the host realm's typed-array constructors. onnxruntime-node's native binding
 * builds output tensors from typed arrays of the host realm, and onnxruntime-common's Tensor checks them with
 * `instanceof Float32Array` inside the test's vm context, which has its own constructors and rejects them
 * ("A float32 tensor's data must be type of Float32Array"). Jest already shares Uint8Array and ArrayBuffer the
 * same way. jest.config.js makes it the environment of every test file.
 */
import { TestEnvironment } from 'jest-environment-node';

const TYPED_ARRAYS = [
  'Int8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

export default class OrtTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of TYPED_ARRAYS) this.global[name] = globalThis[name];
  }
}
