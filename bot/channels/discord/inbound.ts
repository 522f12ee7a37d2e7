/**
 * Discord events → Warden's inbound shapes: who, where, what. Discord vouches for user, channel and
 * guild ids; names and text are untrusted and passed on as data, never interpreted here. Messages
 * from bots, webhooks and ourselves, system messages (pins, joins, …) and anything outside a guild
 * channel or a one-to-one DM are dropped: there is no person behind them we could hold to a role.
 */
import { ChannelType, type Interaction, type Message, MessageType } from "discord.js";
import type { Address, InboundMessage, Sender } from "../../channel.js";

export const PLATFORM = "discord";

/** Where an event happened, as the bot addresses it. */
export interface Place {
  readonly address: Address;
  readonly isPrivate: boolean;
}

/** `discord:<user id>`, named by server nickname, display name or username (untrusted text). */
export function senderOf(
  u: { id: string; username: string; globalName: string | null },
  nick?: string | null,
): Sender {
  return { id: `${PLATFORM}:${u.id}`, name: nick || u.globalName || u.username || u.id };
}

/**
 * A DM is `dm:<user>` (the person the DM is with: from our own DM cache first, else what the
 * payload says); a guild channel is its id; anything else is nowhere we serve.
 */
function placeOf(
  channelId: string | null,
  guildId: string | null,
  dm: { user: string | undefined } | undefined,
  dmOwners: ReadonlyMap<string, string>,
): Place | undefined {
  if (!channelId) return undefined;
  if (dm) {
    const user = dmOwners.get(channelId) ?? dm.user;
    return user ? { address: { platform: PLATFORM, chatId: `dm:${user}` }, isPrivate: true } : undefined;
  }
  return guildId ? { address: { platform: PLATFORM, chatId: channelId }, isPrivate: false } : undefined;
}

/** The inbound message for `m`, or undefined when it is to be dropped. `me` is our user id. */
export function messageEvent(
  m: Message,
  me: string,
  dmOwners: ReadonlyMap<string, string>,
): InboundMessage | undefined {
  if (m.author.bot || m.webhookId || m.system || m.author.id === me) return undefined;
  if (m.type !== MessageType.Default && m.type !== MessageType.Reply) return undefined;
  const isDm = !m.guildId && m.channel.type === ChannelType.DM;
  const place = placeOf(m.channelId, m.guildId, isDm ? { user: m.author.id } : undefined, dmOwners);
  if (!place) return undefined;
  // `me` is a snowflake (digits), so it is safe inside the pattern.
  const mine = new RegExp(`<@!?${me}>`, "g");
  const mentioned = !place.isPrivate && (m.mentions.users.has(me) || mine.test(m.content));
  return {
    kind: "message",
    from: senderOf(m.author, m.member?.nickname),
    chat: place.address,
    isPrivate: place.isPrivate,
    mentioned,
    text: mentioned ? m.content.replace(mine, " ").replace(/\s+/g, " ").trim() : m.content,
    ref: { platform: PLATFORM, chatId: place.address.chatId, messageId: m.id },
  };
}

/** Where an interaction happened (see placeOf), or undefined for places we do not serve. */
export function interactionPlace(i: Interaction, dmOwners: ReadonlyMap<string, string>): Place | undefined {
  const dm = !i.guildId && i.channel?.type === ChannelType.DM ? i.channel : undefined;
  return placeOf(i.channelId, i.guildId, dm ? { user: dm.recipientId ?? i.user.id } : undefined, dmOwners);
}

/** The person who used a command or clicked a button. */
export function interactionSender(i: Interaction): Sender {
  const member = i.inGuild() ? (i.member as { nickname?: string | null } | null) : null;
  return senderOf(i.user, member?.nickname);
}
