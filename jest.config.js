/** Jest runs the TypeScript sources directly as ES modules (ts-jest, transpile only; `npm run typecheck` checks types). */
export default {
  // Node's environment plus the host realm's typed arrays, which onnxruntime-node's output tensors are made of.
  testEnvironment: './test/ort-environment.mjs',
  // A temporary graph cache for the whole run: tests never write into ~/.cache/reprompt.
  globalSetup: './test/global-setup.mjs',
  globalTeardown: './test/global-teardown.mjs',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Generous: the 512² reference runs take minutes on a 2-core machine with two test files running at once.
  testTimeout: 600000,
  maxWorkers: 2,
};
