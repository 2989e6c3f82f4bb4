/**
 * `/queue show|cancel [job]|pause|resume` and the Cancel button under a queued or running job. Anyone may look
 * and cancel their own jobs; admins may cancel any job and pause or resume the queue.
 */
import { SlashCommandBuilder } from 'discord.js';
import { UserError } from '../src/engine/errors.js';
import { findJob, pressedJob } from '../src/bot/command-kit.js';
import type { BotContext } from '../src/bot/context.js';
import type { JobRecord } from '../src/bot/job.js';
import { mention, type Interaction } from '../src/bot/port/index.js';
import { formatDuration } from '../src/bot/render.js';
import type { BotModule } from '../src/bot/router.js';

const data = new SlashCommandBuilder()
  .setName('queue')
  .setDescription('Show or manage the image queue')
  .addSubcommand((s) => s.setName('show').setDescription('Show running and waiting jobs'))
  .addSubcommand((s) =>
    s
      .setName('cancel')
      .setDescription('Cancel a job (yours; admins: any)')
      .addIntegerOption((o) => o.setName('job').setDescription('Job number; your newest queued job if empty').setMinValue(1)),
  )
  .addSubcommand((s) => s.setName('pause').setDescription('Admins: stop starting new jobs'))
  .addSubcommand((s) => s.setName('resume').setDescription('Admins: start jobs again'));

/** At most this many waiting jobs are listed (a message holds 2000 characters). */
const LISTED = 15;

/** Jobs of other servers share the engine but are shown without their author or prompt. */
function describeJob(job: JobRecord, guildId: string | null): string {
  if (job.guildId !== guildId) return `#${job.id} (another server)`;
  const text = job.request.kind === 'edit' ? `edit: ${job.request.params.edit}` : job.request.params.prompt;
  return `#${job.id} ${mention(job.userId)} “${text.length > 60 ? `${text.slice(0, 59)}…` : text}”`;
}

function overviewText(ctx: BotContext, guildId: string | null): string {
  const { paused, running, waiting } = ctx.jobs.overview();
  const model = `${ctx.backend.model} on ${ctx.backend.provider}`;
  const lines = [`**Queue**${paused ? ' (paused by an admin)' : ''}: ${running.length} running, ${waiting.length} waiting · model ${model}.`];
  for (const { job, progress } of running) {
    lines.push(`▶ ${describeJob(job, guildId)}${progress ? ` · step ${progress.step}/${progress.total} · ETA ${formatDuration(progress.etaMs)}` : ''}`);
  }
  for (const { job, position } of waiting.slice(0, LISTED)) lines.push(`${position}. ${describeJob(job, guildId)}`);
  if (waiting.length > LISTED) lines.push(`… and ${waiting.length - LISTED} more.`);
  return lines.join('\n');
}

async function cancel(ix: Interaction, ctx: BotContext, jobId: number | undefined): Promise<void> {
  const id = jobId ?? ctx.jobs.latestActiveOf(ix.user.id)?.id;
  if (id === undefined) throw new UserError('not_found', 'You have no job queued or running.');
  findJob(ctx, ix, id);
  const job = await ctx.jobs.cancel(id, { userId: ix.user.id, isAdmin: ix.isAdmin });
  const text = job.status === 'cancelled' ? `Cancelled job #${id}.` : `Stopping job #${id} after its current step.`;
  await ix.editReply({ content: text, ephemeral: true });
}

function requireAdmin(ix: Interaction, what: string): void {
  if (!ix.isAdmin) throw new UserError('forbidden', `Only admins can ${what} the queue.`);
}

const queue: BotModule = {
  slash: {
    data,
    async execute(ix, ctx) {
      await ix.defer({ ephemeral: true });
      switch (ix.subcommand) {
        case 'cancel':
          return cancel(ix, ctx, typeof ix.options.job === 'number' ? ix.options.job : undefined);
        case 'pause':
          requireAdmin(ix, 'pause');
          ctx.jobs.pause();
          return ix.editReply({ content: 'Paused: running jobs finish, no new job starts until /queue resume.', ephemeral: true });
        case 'resume':
          requireAdmin(ix, 'resume');
          ctx.jobs.resume();
          return ix.editReply({ content: 'Resumed: jobs start again.', ephemeral: true });
        default:
          return ix.editReply({ content: overviewText(ctx, ix.guildId), ephemeral: true });
      }
    },
  },
  buttons: {
    actions: ['cancel'],
    async execute(ix, target, ctx) {
      await ix.defer({ ephemeral: true });
      await cancel(ix, ctx, pressedJob(ctx, ix, target).id);
    },
  },
};

export default queue;
