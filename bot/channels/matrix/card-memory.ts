/**
 * The cards this channel sent (room, chat, the verbs offered, the reactions it seeded), and the
 * verdict on a person's reaction: a tap on a card, a key that card does not offer, or nothing.
 *
 * Untrusted: the reaction's key and its target event id (a relation may name ANY event id, also
 * one in another room). A reaction is a tap only when the target is a card we sent in the very
 * room the reaction arrived in; after a restart (memory empty) only when the bot's records say
 * that event, in that chat, carried a card. The sender's right to vote is the bot's check, later.
 */
import type { SentRef } from "../../channel.js";
import { KEYS, type Verb, verbOfKey } from "./card-content.js";

interface CardMemory {
  readonly roomId: string;
  /** The chat the card was addressed to (a person's id for DMs): what the bot's records hold. */
  readonly chatId: string;
  offered: Verb[];
  readonly seeded: Map<Verb, string>;
}

export type ReactionVerdict =
  | { readonly kind: "tap"; readonly verb: Verb; readonly ref: SentRef }
  | { readonly kind: "not_offered"; readonly verb: Verb; readonly ref: SentRef }
  | { readonly kind: "ignored"; readonly why: "other_emoji" | "not_a_card" };

/** What seeding needs from the channel: send a reaction, take one back. */
export interface SeedIo {
  react(roomId: string, content: object): Promise<string>;
  redact(roomId: string, eventId: string): Promise<void>;
}

const MAX_REMEMBERED = 5000;

/** Sets `key`, dropping the oldest entry past the bound. */
export function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.set(key, value);
  if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value as K);
}

export interface CardMemories {
  /** A card was sent as `eventId`; seeds a reaction for each verb offered. */
  sent(eventId: string, roomId: string, chatId: string, verbs: Verb[], io: SeedIo): Promise<void>;
  /** The card's offer changed (none once decided): new keys seeded, dropped ones taken back. */
  updated(eventId: string, verbs: Verb[], io: SeedIo): Promise<boolean>;
  /** The room a remembered card `eventId` addressed to `chatId` is in. */
  roomOf(eventId: string, chatId: string): string | undefined;
  /** A reaction `key` on `target`, arriving in `roomId` (whose chat id is `chatId`). */
  judge(roomId: string, chatId: string, target: string, key: string): ReactionVerdict;
}

export function createCardMemories(isCard?: (ref: SentRef) => boolean): CardMemories {
  const cards = new Map<string, CardMemory>();

  async function seed(card: CardMemory, eventId: string, io: SeedIo): Promise<void> {
    for (const verb of card.offered) {
      if (card.seeded.has(verb)) continue;
      const rel = { "m.relates_to": { rel_type: "m.annotation", event_id: eventId, key: KEYS[verb] } };
      card.seeded.set(verb, await io.react(card.roomId, rel));
    }
    for (const [verb, reaction] of [...card.seeded]) {
      if (card.offered.includes(verb)) continue;
      card.seeded.delete(verb);
      await io.redact(card.roomId, reaction);
    }
  }

  return {
    async sent(eventId, roomId, chatId, verbs, io) {
      const card: CardMemory = { roomId, chatId, offered: verbs, seeded: new Map() };
      remember(cards, eventId, card);
      await seed(card, eventId, io);
    },
    async updated(eventId, verbs, io) {
      const card = cards.get(eventId);
      if (!card) return false;
      card.offered = verbs;
      await seed(card, eventId, io);
      return true;
    },
    roomOf(eventId, chatId) {
      const card = cards.get(eventId);
      return card?.chatId === chatId ? card.roomId : undefined;
    },
    judge(roomId, chatId, target, key) {
      const verb = verbOfKey(key);
      if (!verb) return { kind: "ignored", why: "other_emoji" }; // any other emoji is just a reaction
      const card = cards.get(target);
      const ref: SentRef = { platform: "matrix", chatId: card?.chatId ?? chatId, messageId: target };
      const known = card ? card.roomId === roomId : isCard?.(ref) === true;
      if (!known) return { kind: "ignored", why: "not_a_card" };
      // A decided card offers nothing: the tap still reaches the bot, which says it is decided.
      if (card && card.offered.length > 0 && !card.offered.includes(verb))
        return { kind: "not_offered", verb, ref };
      return { kind: "tap", verb, ref };
    },
  };
}
