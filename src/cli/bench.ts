/** `reprompt bench` (`npm run bench`): prints timings of the engine on a model; asserts nothing. */
import type { Command } from 'commander';
import type { ImagineParams } from '../engine/jobs.js';
import { defaultIntraOpThreads } from '../engine/onnx/session.js';
import { EngineWorker } from '../engine/worker/engine-worker.js';
import { benchJson } from './bench-json.js';
import { GRID_BENCH_SECTIONS } from './bench-grid.js';
import { P2P_BENCH_SECTIONS } from './bench-p2p.js';
import { PHOTO_BENCH_SECTIONS } from './bench-photo.js';
import { PREVIEW_BENCH_SECTIONS } from './bench-preview.js';
import { ENGINE_BENCH_SECTIONS, type BenchContext, type BenchFigure, type BenchSection, type StartedEngine } from './bench-sections.js';
import { addEngineOptions, ENGINE_HANDLERS_URL, engineWorkerSetup, type EngineCliOptions } from './engine-options.js';
import { integer } from './options.js';

/** Every section, in order (other layers add theirs here, one line each). */
const SECTIONS: readonly BenchSection[] = [...ENGINE_BENCH_SECTIONS, ...P2P_BENCH_SECTIONS, ...PREVIEW_BENCH_SECTIONS, ...GRID_BENCH_SECTIONS, ...PHOTO_BENCH_SECTIONS];

interface BenchOptions extends EngineCliOptions {
  steps: number;
  width: number;
  height: number;
  json?: boolean;
}

interface SectionReport {
  title: string;
  figures: BenchFigure[];
}

const imageSide = integer({ min: 8, multipleOf: 8 });

export function register(program: Command): void {
  const command = program
    .command('bench')
    .description('time the engine: model load, UNet steps, host work, VAE, and the event loop with and without the worker')
    // Small defaults so that the bundled model finishes in seconds; use 512×512 and 20 steps for real SD figures.
    .option('--steps <n>', 'sampling steps', integer({ min: 1 }), 10)
    .option('--width <px>', 'image width', imageSide, 128)
    .option('--height <px>', 'image height', imageSide, 128)
    .option('--json', 'print one JSON object: time to ready, UNet per call (plain fused, plain explicit, edit), peak RSS per phase');
  addEngineOptions(command).action((options: BenchOptions) => bench(options));
}

/** The benchmark's prompt, and the edit that --json times (a word swap: the edit's batch is source + target). */
const BENCH_PROMPT = 'a red fox in the snow, detailed photograph';
const JSON_EDIT = 'fox→cat';

async function bench(options: BenchOptions): Promise<void> {
  const { modelDir, pipeline } = engineWorkerSetup(options);
  const params: ImagineParams = {
    prompt: BENCH_PROMPT,
    negativePrompt: '',
    seed: '42',
    steps: options.steps,
    guidance: 7.5,
    width: options.width,
    height: options.height,
  };
  const engines = new Map<string, Promise<StartedEngine>>();
  const context: BenchContext = {
    params,
    modelDir,
    pipeline,
    engine: (handlers = ENGINE_HANDLERS_URL) => {
      let started = engines.get(handlers.href);
      if (!started) {
        started = startTimed(modelDir, pipeline, handlers);
        engines.set(handlers.href, started);
      }
      return started;
    },
  };

  if (options.json) {
    process.stdout.write(`${JSON.stringify(await benchJson(modelDir, pipeline, params, JSON_EDIT))}\n`);
    return;
  }
  const threads = pipeline.intraOpThreads ?? defaultIntraOpThreads();
  process.stdout.write(`bench: ${modelDir} on ${pipeline.provider ?? 'cpu'}, ${threads} intra-op threads, ${params.steps} steps, ${params.width}×${params.height}\n\n`);
  try {
    for (const section of SECTIONS) printSection({ title: section.title, figures: await section.run(context) });
  } finally {
    // An engine that failed to start has already reported its error through its section.
    await Promise.all([...engines.values()].map((started) => started.then(({ worker }) => worker.close(), () => {})));
  }
}

async function startTimed(modelDir: string, pipeline: BenchContext['pipeline'], handlers: URL): Promise<StartedEngine> {
  const start = performance.now();
  const worker = await EngineWorker.start({ modelDir, pipeline, handlers });
  return { worker, startMs: performance.now() - start };
}

function printSection({ title, figures }: SectionReport): void {
  const width = Math.max(...figures.map((figure) => figure.label.length));
  const lines = figures.map(({ label, value, unit }) => `  ${label.padEnd(width)}  ${value.toFixed(value < 10 ? 2 : 1).padStart(9)} ${unit}`);
  process.stdout.write(`${title}\n${lines.join('\n')}\n\n`);
}
