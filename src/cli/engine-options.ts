/** The options every engine-running subcommand shares (--model, --provider, --threads), and starting the engine. */
import { Option, type Command } from 'commander';
import { siblingModule } from '../engine/module-url.js';
import { PROVIDERS, type ProviderName } from '../engine/onnx/session.js';
import { EngineWorker, type WorkerPipelineOptions } from '../engine/worker/engine-worker.js';
import { APP_HANDLERS_URL } from '../p2p/handlers-url.js';
import { integer } from './options.js';
import { noteIfBundledModel, resolveModelDir } from './model-dir.js';
import { ProgressBar } from './progress-bar.js';

/** The handler module of the plain engine (imagine on the unpatched UNet). */
export const ENGINE_HANDLERS_URL = siblingModule(import.meta.url, '../engine/handlers');

export interface EngineCliOptions {
  model?: string;
  provider?: ProviderName;
  threads?: number;
}

export function addEngineOptions(command: Command): Command {
  return command
    .option('--model <dir>', 'model folder (default: $REPROMPT_MODEL_DIR, else the bundled random-weight tiny-sd15)')
    .addOption(new Option('--provider <name>', 'ONNX Runtime execution provider').choices(PROVIDERS).default('cpu'))
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: one per available core)', integer({ min: 1 }));
}

/** Everything EngineWorker.start needs but the handler module. */
export function engineWorkerSetup(options: EngineCliOptions): { modelDir: string; pipeline: WorkerPipelineOptions } {
  const pipeline: WorkerPipelineOptions = { provider: options.provider };
  if (options.threads !== undefined) pipeline.intraOpThreads = options.threads;
  return { modelDir: resolveModelDir(options.model), pipeline };
}

/** Starts the engine worker; says so on stderr when its model is the bundled one, whose images are noise. */
export async function startEngine(options: EngineCliOptions, handlers: URL = APP_HANDLERS_URL): Promise<EngineWorker> {
  const setup = engineWorkerSetup(options);
  noteIfBundledModel(setup.modelDir);
  return EngineWorker.start({ ...setup, handlers });
}

/** Runs `body` on a started engine with a progress bar on stderr, and closes both. */
export async function onEngine<T>(options: EngineCliOptions, body: (engine: EngineWorker, bar: ProgressBar) => Promise<T>): Promise<T> {
  const engine = await startEngine(options);
  const bar = new ProgressBar(process.stderr);
  try {
    return await body(engine, bar);
  } finally {
    bar.clear();
    await engine.close();
  }
}
