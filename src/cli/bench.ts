/** `reprompt bench` (`npm run bench`): prints timings of the engine on a model; asserts nothing. */
import type { Command } from 'commander';
import type { ImagineParams } from '../engine/jobs.js';
import { EngineWorker } from '../engine/worker/engine-worker.js';
import { GRID_BENCH_SECTIONS } from './bench-grid.js';
import { P2P_BENCH_SECTIONS } from './bench-p2p.js';
import { PREVIEW_BENCH_SECTIONS } from './bench-preview.js';
import { ENGINE_BENCH_SECTIONS, type BenchContext, type BenchFigure, type BenchSection, type StartedEngine } from './bench-sections.js';
import { addEngineOptions, ENGINE_HANDLERS_URL, engineWorkerSetup, type EngineCliOptions } from './engine-options.js';
import { integer } from './options.js';

/** Every section, in order (other layers add theirs here, one line each). */
const SECTIONS: readonly BenchSection[] = [...ENGINE_BENCH_SECTIONS, ...P2P_BENCH_SECTIONS, ...PREVIEW_BENCH_SECTIONS, ...GRID_BENCH_SECTIONS];

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
    .option('--json', 'print the figures as JSON');
  addEngineOptions(command).action((options: BenchOptions) => bench(options));
}

async function bench(options: BenchOptions): Promise<void> {
  const { modelDir, pipeline } = engineWorkerSetup(options);
  const params: ImagineParams = {
    prompt: 'a red fox in the snow, detailed photograph',
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

  const setup = { model: modelDir, provider: pipeline.provider ?? 'cpu', steps: params.steps, width: params.width, height: params.height };
  if (!options.json) process.stdout.write(`bench: ${setup.model} on ${setup.provider}, ${setup.steps} steps, ${setup.width}×${setup.height}\n\n`);
  const reports: SectionReport[] = [];
  try {
    for (const section of SECTIONS) {
      reports.push({ title: section.title, figures: await section.run(context) });
      if (!options.json) printSection(reports[reports.length - 1]);
    }
  } finally {
    // An engine that failed to start has already reported its error through its section.
    await Promise.all([...engines.values()].map((started) => started.then(({ worker }) => worker.close(), () => {})));
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ setup, sections: reports }, null, 2)}\n`);
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
