/** Every command module of the bot. The router loads this list; `npm run register` registers its definitions. */
import type { BotModule } from '../src/bot/router.js';
import deleteImage from './delete.js';
import edit from './edit.js';
import editWithPrompt from './edit-with-prompt.js';
import imagine from './imagine.js';
import photoDialog from './photo-dialog.js';
import queue from './queue.js';
import replyEdit from './reply-edit.js';
import variations from './variations.js';

export const modules: readonly BotModule[] = [imagine, edit, editWithPrompt, photoDialog, replyEdit, variations, queue, deleteImage];
