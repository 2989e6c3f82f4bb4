/**
 * A handler module for the worker tests (loaded inside the worker thread by tsx, never by jest): the engine's
 * real handlers, plus kinds that crash the worker on purpose and a UNet loader that shows pipelineOptions() is used.
 */
import { engineHandlers } from '../src/engine/handlers.js';
import { defaultUNetLoader, type UNetLoader } from '../src/engine/onnx/unet.js';
import type { PipelineOptions } from '../src/engine/pipeline.js';
import type { JobHandlers } from '../src/engine/worker/job-handler.js';

let unetLoads = 0;

const countingUNetLoader: UNetLoader = {
  load: (path, options) => {
    unetLoads++;
    return defaultUNetLoader.load(path, options);
  },
};

export function pipelineOptions(): Partial<PipelineOptions> {
  return { unetLoader: countingUNetLoader };
}

export const handlers: JobHandlers = {
  ...engineHandlers,
  unetLoads: async () => unetLoads,
  /** Ends the worker thread in the middle of a job. */
  exit: () => process.exit(3),
  /** Throws outside any job's promise chain: an uncaught exception in the worker. */
  throwUncaught: () => {
    setTimeout(() => {
      throw new Error('deliberate uncaught error');
    });
    return new Promise(() => {});
  },
};
