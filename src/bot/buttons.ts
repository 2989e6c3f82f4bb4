/** The buttons under the bot's messages. Each is `action:jobId`; ./variations.ts says what the job-creating ones do. */
import type { BackendLimits } from './backend.js';
import { customId, type Action } from './custom-id.js';
import type { JobRecord } from './job.js';
import type { Button, ButtonRow, ButtonStyle } from './port/index.js';
import { variationFor } from './variations.js';

/** Under a queued or running job. */
export function statusRows(job: JobRecord): ButtonRow[] {
  return [[button(job, 'cancel', 'Cancel', 'danger')]];
}

/**
 * Under a result. A generation: guidance variations and a reroll, then edit, attention maps and delete. An edit:
 * guidance variations, then stronger/weaker edit (re-edits of the same source), then edit, attention maps and
 * delete. Attention maps: delete only.
 */
export function resultRows(job: JobRecord, limits: BackendLimits): ButtonRow[] {
  const remove = button(job, 'delete', 'Delete', 'danger');
  if (job.origin === 'attention') return [[remove]];
  // A variation that does not apply (e.g. guidance already at its limit) has no button.
  const computed = (action: Action, style: ButtonStyle): Button[] => {
    const variation = variationFor(action, job, limits);
    return variation ? [button(job, action, variation.label, style)] : [];
  };
  const guidance = [...computed('cfg-lower', 'secondary'), ...computed('cfg-higher', 'secondary'), ...computed('cfg-negative', 'danger')];
  const closing = [button(job, 'edit', 'Edit…', 'primary'), button(job, 'attention', 'Attention maps', 'secondary'), remove];
  const rows =
    job.request.kind === 'imagine'
      ? [[...guidance, button(job, 'reroll', 'Reroll', 'primary')], closing]
      : [guidance, [...computed('edit-stronger', 'secondary'), ...computed('edit-weaker', 'secondary')], closing];
  return rows.filter((row) => row.length > 0);
}

const button = (job: JobRecord, action: Action, label: string, style: ButtonStyle): Button => ({ label, customId: customId(action, job.id), style });
