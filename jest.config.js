/** Jest runs the TypeScript sources directly as ES modules (ts-jest, transpile only; `npm run typecheck` checks types). */
export default {
  // Node's environment plus the host realm's typed arrays, which onnxruntime-node's output tensors are made of.
  testEnvironment: './test/engine-ort-environment.mjs',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 120000,
  maxWorkers: 2,
};
