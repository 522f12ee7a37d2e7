/**
 * Which Slack conversation a chat id means. The bot addresses a person's private chat by their user
 * id (`privateChat()` must be synchronous); Slack needs the DM channel (`D…`), which only
 * `conversations.open` can tell. The reverse (a `D…` channel seen on a tap or a slash command back
 * to its person) comes from the same cache or `conversations.info`, never from the payload's user:
 * a tap in Ann's DM must report Ann's chat whoever tapped, so the bot matches the card exactly, and
 * a slash command typed in a DM between two people is not a private chat with the bot.
 */

/** Slack conversation ids: public (C), private or group (G) channels, and DMs (D). */
const CONVERSATION_ID = /^[CGD][A-Z0-9]{2,}$/;
/** Entries kept per map; the oldest go first (an evicted DM is simply looked up again). */
const MAX_ENTRIES = 10_000;

function cap<K, V>(map: Map<K, V>): void {
  while (map.size > MAX_ENTRIES) map.delete(map.keys().next().value as K);
}

export interface Directory {
  /** The conversation to post in for an address's chat id (a user id opens their DM). */
  channelFor(chatId: string): Promise<string>;
  /** The person whose DM with the bot `channel` is, or undefined for any other conversation. */
  ownerOf(channel: string): Promise<string | undefined>;
  /** Records a DM the platform vouched for (a `message.im` event). */
  remember(user: string, dm: string): void;
}

/** Creates a cache over `open` (conversations.open) and `info` (conversations.info). */
export function createDirectory(io: {
  open(user: string): Promise<string>;
  info(channel: string): Promise<{ isIm: boolean; user?: string } | undefined>;
}): Directory {
  const dmOf = new Map<string, Promise<string>>();
  const ownerOfDm = new Map<string, string>();

  function remember(user: string, dm: string): void {
    if (!dmOf.has(user)) dmOf.set(user, Promise.resolve(dm));
    ownerOfDm.set(dm, user);
    cap(dmOf);
    cap(ownerOfDm);
  }

  return {
    remember,
    channelFor(chatId) {
      if (CONVERSATION_ID.test(chatId)) return Promise.resolve(chatId);
      let dm = dmOf.get(chatId);
      if (!dm) {
        dm = io.open(chatId).then((id) => {
          ownerOfDm.set(id, chatId);
          cap(ownerOfDm);
          return id;
        });
        dm.catch(() => dmOf.delete(chatId)); // a failed open is retried next time, not cached
        dmOf.set(chatId, dm);
        cap(dmOf);
      }
      return dm;
    },
    async ownerOf(channel) {
      if (!channel.startsWith("D")) return undefined;
      const known = ownerOfDm.get(channel);
      if (known) return known;
      // Not ours (a DM between two people) or not visible: not a private chat with the bot.
      const info = await io.info(channel).catch(() => undefined);
      if (!info?.isIm || !info.user) return undefined;
      remember(info.user, channel);
      return info.user;
    },
  };
}
