/**
 * When a platform will not deliver a card to someone now (WhatsApp's or Meta's 24-hour window, see
 * `Undeliverable` in bot/channel.ts), the owners hear why on another platform, once per card and
 * chat. The request itself stays held: nobody is approved for, nothing is auto-decided (fail closed).
 * The notice is Warden's own words only: the platform, the reason the channel gave, the card's title
 * (built by the bot from gateway data, the same line every card shows) and the full-request link.
 */
import type { Log } from "../gateway/index.js";
import type { BotStore } from "./bot-store.js";
import { type Address, type Channel, undeliverableReason } from "./channel.js";

const MAX_TOLD = 10_000;

export interface UndeliverableNoticeOptions {
  readonly channels: ReadonlyMap<string, Channel>;
  readonly store: BotStore;
  /** A private chat for `identity`, if its platform runs and has private chats. */
  readonly dmOfIdentity: (identity: string) => Promise<Address | undefined>;
  readonly log: Log;
}

/** Returns `notice(what, to, err, card)`: true when `err` named a reason (owners were told). */
export function createUndeliverableNotice(o: UndeliverableNoticeOptions) {
  const told = new Set<string>();
  return async function notice(
    what: string,
    to: Address,
    err: unknown,
    card: { readonly title: string; readonly link?: string | null },
  ): Promise<boolean> {
    const reason = undeliverableReason(err);
    if (!reason) return false;
    const k = `${what}\u0000${to.platform}\u0000${to.chatId}`;
    if (told.has(k)) return true;
    told.add(k);
    if (told.size > MAX_TOLD) told.delete(told.values().next().value as string);
    const text = [
      `Warden could not show an approval card to someone on ${to.platform}: ${reason}.`,
      `Card: ${card.title}`,
      "The request stays held until another approver decides it or it expires.",
      ...(card.link ? [`Full request: ${card.link}`] : []),
    ].join("\n");
    let reached = 0;
    for (const owner of (await o.store.listPeople()).filter((p) => p.role === "owner")) {
      // The owner's private chat on any other platform (the failing one cannot reach them either).
      let to2: Address | undefined;
      for (const id of await o.store.identitiesOf(owner.id)) {
        if (id.startsWith(`${to.platform}:`)) continue;
        to2 = await o.dmOfIdentity(id);
        if (to2) break;
      }
      const channel = to2 && o.channels.get(to2.platform);
      if (!to2 || !channel) continue;
      try {
        await channel.sendText(to2, text);
        reached++;
      } catch (err2) {
        o.log("bot_notice_failed", { platform: to2.platform, error: (err2 as Error).name });
      }
    }
    o.log("bot_card_undeliverable", { what, platform: to.platform, owners_told: reached });
    return true;
  };
}
