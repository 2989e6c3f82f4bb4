/**
 * A plain reply `cat→dog` to one of the bot's images edits it. Only when the operator enabled the privileged
 * message-content intent (MESSAGE_CONTENT=true); only replies with an arrow count, so chatting stays chatting.
 */
import { acceptEdit } from '../src/bot/command-kit.js';
import { isSwapEdit } from '../src/p2p/edit/language.js';
import type { BotModule } from '../src/bot/router.js';

const replyEdit: BotModule = {
  reply: {
    async execute(ix, ctx) {
      const text = ix.content.trim();
      if (!isSwapEdit(text)) return;
      const source = ctx.store.byMessage(ix.repliedTo.messageId);
      if (!source || source.guildId !== ix.guildId || source.status !== 'done') return;
      await ix.defer();
      await acceptEdit(ix, ctx, source, text, {});
    },
  },
};

export default replyEdit;
