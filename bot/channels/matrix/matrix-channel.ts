/**
 * Matrix channel: matrix-js-sdk /sync long polling behind the `Channel` seam (this folder is the
 * only importer of matrix-js-sdk). No public URL and no webhooks: the homeserver vouches for every
 * event's sender, room and id, and only events that arrive through /sync are acted on.
 *
 * Threat model. Content is typed by people (inbound.ts parses it; untrusted); reaction keys, target
 * event ids and display names too. A reaction is a tap only when its key is one the bot seeded
 * (✅ ❌ ⏱️), its target is a card we sent IN THAT SAME ROOM (a relation may name any event id, also
 * one in another room), and its sender is not the bot (our own seeded reactions come back through
 * /sync). The bot then finds the approval by that card and re-checks who may vote. Events from the
 * first sync (history, things sent while Warden was down) are never commands. Invites: a direct
 * invite (`is_direct`) is joined, so anyone can open a DM and gets the usual stranger treatment;
 * a room invite is joined only when `mayInvite` accepts the inviter, else declined. Encrypted rooms:
 * the bot has no keys, so each room that sends it an encrypted event hears once, in plain text,
 * that Warden cannot read it. Answers to a tap go to the tapper's DM (Matrix has no private
 * replies), a few per card at most. The access token never reaches a log or an error.
 */
import {
  ClientEvent,
  createClient,
  type MatrixClient,
  type MatrixEvent,
  type Room,
  RoomEvent,
} from "matrix-js-sdk";
import type { Address, Channel, InboundEvent, SendTextOptions, SentRef } from "../../channel.js";
import { oneLine, splitText } from "../text.js";
import {
  cardContent,
  editContent,
  KEYS,
  type NoticeContent,
  offeredVerbs,
  TEXT_LIMIT,
  textContent,
  type Verb,
  verbOfKey,
} from "./card-content.js";
import { createDirectRooms, type DirectRooms } from "./direct-rooms.js";
import { classify, isRoomId, isUserId } from "./inbound.js";
import { createMatrixErrors, quietSdk, silentLogger } from "./matrix-errors.js";

export interface MatrixChannelOptions {
  /** e.g. https://matrix.example.org (no trailing /_matrix). */
  readonly homeserverUrl: string;
  readonly accessToken: string;
  /** The bot's own user id, `@warden:example.org`; checked against whoami on start. */
  readonly userId: string;
  readonly deviceId?: string;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  /** Whether our message `ref` carried a card (the bot's records survive a restart; our memory does not). */
  readonly isCard?: (ref: SentRef) => boolean;
  /** Whether to join a (non-direct) room `identity` (`matrix:@…`) invited the bot to; default: never. */
  readonly mayInvite?: (identity: string) => boolean;
  /** How long start() waits for the first sync; default 60 s. */
  readonly startTimeoutMs?: number;
}

interface CardMemory {
  readonly roomId: string;
  readonly chatId: string;
  offered: Verb[];
  readonly seeded: Map<Verb, string>;
}

const MAX_REMEMBERED = 5000;
const MAX_ANSWERS_PER_CARD = 3;
const ENCRYPTED_NOTICE =
  "I cannot read end-to-end encrypted messages, so I did not see that. Talk to me in a room without encryption (start a direct chat with encryption turned off).";

/** "@warden:hs: /agent list" or "Warden, /agent list" (Element's pill body) → "/agent list". */
function withoutMention(text: string, names: readonly string[]): string {
  let t = text;
  for (const n of names) if (t.startsWith(n)) t = t.slice(n.length).replace(/^[:,]?\s*/, "");
  return t
    .split(names[0] as string)
    .join(" ")
    .replace(/ {2,}/g, " ")
    .trim();
}

function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.set(key, value);
  if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value as K);
}

export function createMatrixChannel(options: MatrixChannelOptions): Channel {
  const log = options.log ?? (() => undefined);
  const me = options.userId;
  const errors = createMatrixErrors(options.accessToken);
  const cards = new Map<string, CardMemory>();
  const ours = new Map<string, true>(); // event ids of our messages (a reply to one is a mention)
  const answers = new Map<string, number>();
  const noticed = new Set<string>();
  let client: MatrixClient | undefined;
  let direct: DirectRooms | undefined;
  let handler: ((e: InboundEvent) => Promise<void>) | undefined;
  let live = false;

  const must = (): { c: MatrixClient; d: DirectRooms } => {
    if (!client || !direct) throw new Error("Matrix channel is not started");
    return { c: client, d: direct };
  };
  const call = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      throw errors.human(what, err);
    }
  };

  /** The room a message to `to` goes to: a person's DM (opened if needed) or a room id. */
  async function roomOf(to: { platform: string; chatId: string }): Promise<string> {
    if (to.platform !== "matrix") throw new Error(`Matrix channel cannot send to ${to.platform}`);
    const { c, d } = must();
    if (isUserId(to.chatId)) return call("createRoom", () => d.roomFor(to.chatId));
    if (!isRoomId(to.chatId)) throw new Error("Matrix: not a user id (@name:server) or room id (!id:server)");
    if (c.getRoom(to.chatId)?.hasEncryptionStateEvent())
      throw new Error("Matrix: that room is end-to-end encrypted and Warden has no keys to write there");
    return to.chatId;
  }

  const sendEvent = async (roomId: string, type: string, content: object): Promise<string> => {
    const { c } = must();
    const res = await call("send", () => c.sendEvent(roomId, type as never, content as never));
    remember(ours, res.event_id, true);
    return res.event_id;
  };

  async function seed(card: CardMemory, eventId: string, verbs: readonly Verb[]): Promise<void> {
    for (const verb of verbs) {
      if (card.seeded.has(verb)) continue;
      const rel = { "m.relates_to": { rel_type: "m.annotation", event_id: eventId, key: KEYS[verb] } };
      card.seeded.set(verb, await sendEvent(card.roomId, "m.reaction", rel));
    }
    for (const [verb, reaction] of [...card.seeded]) {
      if (verbs.includes(verb)) continue;
      card.seeded.delete(verb);
      await call("redact", () => must().c.redactEvent(card.roomId, reaction)).catch((err: Error) =>
        log("matrix.unseed_failed", { error: err.message }),
      );
    }
  }

  function dispatch(what: string, work: (h: (e: InboundEvent) => Promise<void>) => Promise<void>): void {
    const h = handler;
    if (!h) return;
    work(h).catch((err: unknown) => log("matrix.handler_error", { what, error: errors.name(err) }));
  }

  function onTimeline(
    event: MatrixEvent,
    room: Room | undefined,
    toStart: boolean | undefined,
    removed: boolean,
    data: { liveEvent?: boolean },
  ): void {
    if (!live || !handler || toStart || removed || !data.liveEvent || !room) return;
    const sender = event.getSender();
    const eventId = event.getId();
    if (!sender || !eventId || event.isState()) return;
    const what = classify({ type: event.getType(), sender, content: event.getContent() }, me);
    const dmOf = direct?.personOf(room);
    const chat: Address = { platform: "matrix", chatId: dmOf ?? room.roomId };
    // Display names are chosen by people: one line, no controls, bounded (bot/channels/text.ts).
    const from = { id: `matrix:${sender}`, name: oneLine(room.getMember(sender)?.name ?? "", 64) || sender };
    if (what.kind === "encrypted") {
      encryptedNotice(room.roomId);
      return;
    }
    if (what.kind === "reaction") {
      reaction(from, chat, room.roomId, what.target, what.key);
      return;
    }
    if (what.kind !== "text") return;
    const isPrivate = dmOf === sender;
    const mentioned =
      isPrivate ||
      what.mentions.includes(me) ||
      (what.replyTo !== undefined && ours.has(what.replyTo)) ||
      what.text.includes(me);
    const myName = room.getMember(me)?.name;
    const text = isPrivate ? what.text : withoutMention(what.text, [me, ...(myName ? [myName] : [])]);
    const ref: SentRef = { platform: "matrix", chatId: chat.chatId, messageId: eventId };
    const mentions = what.mentions.filter((u) => u !== me).slice(0, 50);
    dispatch("message", (h) =>
      h({
        kind: "message",
        from,
        chat,
        isPrivate,
        mentioned,
        text,
        ref,
        ...(mentions.length > 0 ? { mentions } : {}),
      }),
    );
  }

  function reaction(
    from: { id: string; name: string },
    chat: Address,
    roomId: string,
    target: string,
    key: string,
  ) {
    const verb = verbOfKey(key);
    if (!verb) return; // any other emoji is just a reaction
    const card = cards.get(target);
    const ref: SentRef = { platform: "matrix", chatId: card?.chatId ?? chat.chatId, messageId: target };
    // The card must be in THIS room: a relation can name an event id from anywhere.
    const isCard = card ? card.roomId === roomId : options.isCard?.(ref) === true;
    if (!isCard) return log("matrix.reaction_not_on_card", {});
    const person = from.id.slice("matrix:".length);
    const answerKey = `${person}/${target}`;
    const reply = async (text: string): Promise<void> => {
      const n = answers.get(answerKey) ?? 0;
      if (n >= MAX_ANSWERS_PER_CARD) return log("matrix.answer_suppressed", {});
      remember(answers, answerKey, n + 1);
      await sendText({ platform: "matrix", chatId: person }, text);
    };
    if (card && card.offered.length > 0 && !card.offered.includes(verb))
      return dispatch("action", () => reply(`This card has no "${verb}" option.`));
    dispatch("action", (h) => h({ kind: "action", from, chat, data: verb, ref, reply }));
  }

  /** One plain notice per encrypted room, sent past the SDK (which refuses unencrypted sends there). */
  function encryptedNotice(roomId: string): void {
    if (noticed.has(roomId)) return;
    noticed.add(roomId);
    log("matrix.encrypted_room", {});
    const { c } = must();
    const txn = `warden-e2e-${Date.now()}-${noticed.size}`;
    const path = `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${encodeURIComponent(txn)}`;
    const body = textContent(ENCRYPTED_NOTICE);
    call("send", () => c.http.authedRequest("PUT" as never, path, undefined, body)).catch((err: Error) =>
      log("matrix.notice_failed", { error: err.message }),
    );
  }

  async function onInvite(room: Room): Promise<void> {
    const { c, d } = must();
    const invite = room.getMember(me)?.events.member;
    const inviter = invite?.getSender();
    if (!inviter || !isUserId(inviter)) return;
    const isDirect = invite?.getContent().is_direct === true;
    if (!isDirect && options.mayInvite?.(`matrix:${inviter}`) !== true) {
      log("matrix.invite_declined", { direct: false });
      await call("leave", () => c.leave(room.roomId));
      return;
    }
    await call("join", () => c.joinRoom(room.roomId));
    if (isDirect) await call("setAccountData", () => d.remember(inviter, room.roomId));
    log("matrix.invite_joined", { direct: isDirect });
  }

  async function sendText(to: Address, text: string, opts?: SendTextOptions): Promise<SentRef> {
    const roomId = await roomOf(to);
    let last: string | undefined;
    for (const chunk of splitText(text, TEXT_LIMIT))
      last = await sendEvent(roomId, "m.room.message", textContent(chunk, opts?.agent));
    if (!last) throw new Error("Matrix send: refusing to send an empty message");
    return { platform: "matrix", chatId: to.chatId, messageId: last };
  }

  return {
    platform: "matrix",
    // A reaction names no count: batch card messages are frozen once sent (bot/batch-drawer.ts).
    gesturesCarryNoCount: true,
    async start(onEvent) {
      if (client) throw new Error("Matrix channel already started");
      quietSdk();
      const c = createClient({
        baseUrl: options.homeserverUrl.replace(/\/+$/, ""),
        accessToken: options.accessToken,
        userId: me,
        deviceId: options.deviceId,
        logger: silentLogger,
      });
      const who = await call("whoami", () => c.whoami());
      if (who.user_id !== me)
        throw new Error(`Matrix: the access token belongs to ${who.user_id}, not MATRIX_USER_ID ${me}`);
      client = c;
      direct = createDirectRooms(c, me);
      handler = onEvent;
      c.on(RoomEvent.Timeline, onTimeline as never);
      c.on(RoomEvent.MyMembership, (room: Room, membership: string) => {
        if (membership === "invite" && handler)
          onInvite(room).catch((err: unknown) => log("matrix.invite_failed", { error: errors.name(err) }));
      });
      const prepared = new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error("Matrix: the first /sync did not finish in time")),
          options.startTimeoutMs ?? 60_000,
        );
        c.on(ClientEvent.Sync, (state, _prev, data) => {
          if (state === "PREPARED" || state === "SYNCING") {
            clearTimeout(t);
            resolve();
          } else if (state === "ERROR" && !live) {
            clearTimeout(t);
            reject(errors.human("sync", data?.error));
          }
        });
      });
      await c.startClient({
        initialSyncLimit: 1,
        lazyLoadMembers: false,
        disablePresence: true,
        threadSupport: false,
      });
      try {
        await prepared;
      } catch (err) {
        c.stopClient();
        [client, direct, handler] = [undefined, undefined, undefined];
        throw err;
      }
      live = true;
      log("matrix.started", {});
    },
    async stop() {
      live = false;
      handler = undefined;
      client?.stopClient();
      client?.removeAllListeners();
      [client, direct] = [undefined, undefined];
    },
    sendText,
    async sendCard(to, card) {
      const roomId = await roomOf(to);
      const eventId = await sendEvent(roomId, "m.room.message", cardContent(card));
      const memory: CardMemory = {
        roomId,
        chatId: to.chatId,
        offered: offeredVerbs(card),
        seeded: new Map(),
      };
      remember(cards, eventId, memory);
      await seed(memory, eventId, memory.offered);
      return { platform: "matrix", chatId: to.chatId, messageId: eventId };
    },
    async updateCard(ref, card) {
      const known = cards.get(ref.messageId);
      const roomId = known?.chatId === ref.chatId ? known.roomId : await roomOf(ref);
      const next: NoticeContent = cardContent(card);
      await sendEvent(roomId, "m.room.message", editContent(ref.messageId, next));
      if (!known) return log("matrix.card_not_remembered", {}); // after a restart: taps reach the bot, which says "decided"
      known.offered = offeredVerbs(card);
      await seed(known, ref.messageId, known.offered);
    },
    privateChat(userId) {
      if (!isUserId(userId)) throw new Error("Matrix user ids look like @name:server");
      return { platform: "matrix", chatId: userId };
    },
    async typing(to) {
      const roomId = await roomOf(to);
      await call("typing", () => must().c.sendTyping(roomId, true, 5000));
    },
    async deleteMessage(ref) {
      const roomId = await roomOf(ref);
      await call("redact", () => must().c.redactEvent(roomId, ref.messageId));
    },
  };
}
