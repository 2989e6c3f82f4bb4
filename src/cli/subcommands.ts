/** The subcommands of `reprompt`, in the order `reprompt --help` lists them. */
import type { Subcommand } from './program.js';

/** Every subcommand, one line each: its name, its summary, and its module (which exports `register(program)`). */
export const SUBCOMMANDS: readonly Subcommand[] = [
  { name: 'imagine', summary: 'draw an image from a prompt', load: () => import('./imagine.js') },
  { name: 'edit', summary: 'edit an image by editing its prompt (Prompt-to-Prompt): same seed, same layout, new words', load: () => import('./edit.js') },
  { name: 'vary', summary: 'a variation of an image reprompt made (img2img of its PNG, same prompt and settings, new noise)', load: () => import('./vary.js') },
  { name: 'upscale', summary: 'the image at twice the size, its details redrawn (img2img at low strength)', load: () => import('./upscale.js') },
  { name: 'bench', summary: 'time the engine: model load, UNet steps, host work, VAE, and the event loop with and without the worker', load: () => import('./bench.js') },
  { name: 'local', summary: 'drive the bot offline: Discord-style commands on stdin, replies on stdout, images in --out', load: () => import('./local.js') },
  { name: 'bot', summary: 'run the Discord bot (configuration from .env, see .env.example)', load: () => import('./bot.js') },
  { name: 'worker', summary: 'run one engine worker for distributed mode: takes jobs from Redis (BullMQ)', load: () => import('./worker.js') },
  { name: 'bench-workers', summary: 'time the hand-over between the bot and engine workers on Redis, and throughput with 1 and 2 workers', load: () => import('./bench-workers.js') },
  { name: 'register', summary: 'register the slash and context-menu commands (in DISCORD_GUILD_ID if set, else globally)', load: () => import('./register.js') },
];
