/**
 * The worker thread: loads the pipeline once, then runs the jobs EngineWorker sends, one at a time, with the
 * handlers of the module named in WorkerInit. Started by bootstrap.mjs; never imported by the main thread.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { isUserError, toErrorValue, type ErrorValue } from '../errors.js';
import { StableDiffusionPipeline } from '../pipeline.js';
import { CancelFlag } from './cancel-flag.js';
import type { HandlerModule, Job, JobContext, JobHandlers } from './job-handler.js';
import type { EngineInfo, FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { transferablesOf } from './transfer.js';

interface Engine {
  pipeline: StableDiffusionPipeline;
  handlers: JobHandlers;
  info: EngineInfo;
}

const port = parentPort as MessagePort;
const init = workerData as WorkerInit;
const cancelFlag = new CancelFlag(init.cancelBuffer);

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** The error as it crosses to the main thread; an unexpected one is logged in full here, where its stack is. */
function report(error: unknown): ErrorValue {
  if (!isUserError(error)) console.error('[engine worker]', error);
  return toErrorValue(error);
}

async function loadEngine(): Promise<Engine> {
  const module = (await import(init.handlersUrl)) as Partial<HandlerModule>;
  if (typeof module.handlers !== 'object' || module.handlers === null) {
    throw new Error(`${init.handlersUrl} does not export \`handlers\``);
  }
  module.configure?.(init.handlerSettings);
  const options = { ...init.pipeline, ...module.pipelineOptions?.() };
  const started = performance.now();
  const pipeline = await StableDiffusionPipeline.load(init.modelDir, options);
  const loadMs = performance.now() - started;
  const warmUpMs = options.warmUp ? await pipeline.warmUp(options.warmUp) : 0;
  const info: EngineInfo = { model: pipeline.model, provider: options.provider ?? 'cpu', kinds: Object.keys(module.handlers), loadMs, warmUpMs };
  return { pipeline, handlers: module.handlers, info };
}

async function runJob(engine: Engine, id: number, job: Job): Promise<void> {
  try {
    const handler = Object.hasOwn(engine.handlers, job.kind) ? engine.handlers[job.kind] : undefined;
    if (!handler) throw new Error(`the engine has no handler for jobs of kind '${job.kind}'`);
    const context: JobContext = {
      pipeline: engine.pipeline,
      onProgress: (progress) => send({ type: 'progress', id, progress }),
      shouldCancel: () => cancelFlag.isRequested(id),
    };
    const result = await handler(context, job);
    send({ type: 'done', id, result }, transferablesOf(result));
  } catch (error) {
    send({ type: 'failed', id, error: report(error) });
  }
}

async function main(): Promise<void> {
  let engine: Engine;
  try {
    engine = await loadEngine();
  } catch (error) {
    send({ type: 'loadFailed', error: report(error) });
    port.close();
    return;
  }
  send({ type: 'ready', info: engine.info });

  // EngineWorker sends one job at a time and never queues (the queue above it decides what runs), but a handler
  // awaits between steps, so a close could otherwise start while a job is still running: it waits for the job.
  let previous = Promise.resolve();
  port.on('message', (message: ToWorker) => {
    previous = previous.then(async () => {
      if (message.type === 'run') return runJob(engine, message.id, message.job);
      try {
        await engine.pipeline.release();
      } finally {
        port.close(); // nothing else keeps the thread alive: it ends
      }
    });
  });
}

await main();
