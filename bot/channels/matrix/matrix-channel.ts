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
 * first sync (history, things sent while Warden was down) are never commands. Invites and
 * encrypted rooms: room-upkeep.ts. Answers to a tap go to the tapper's DM (Matrix has no private
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
import { cardContent, editContent, offeredVerbs, TEXT_LIMIT, textContent } from "./card-content.js";
import { createCardMemories, remember, type SeedIo } from "./card-memory.js";
import { createDirectRooms, type DirectRooms } from "./direct-rooms.js";
import { classify, type Inbound, isRoomId, isUserId, withoutMention } from "./inbound.js";
import { createRoomUpkeep } from "./room-upkeep.js";
import { createMatrixErrors, quietSdk, silentLogger } from "./matrix-errors.js";

export interface MatrixChannelOptions {
  /** e.g. https://matrix.example.org (no trailing /_matrix). */
  readonly homeserverUrl: string;
  /** The bot account's token, or a lookup read on start (the Warden secret MATRIX_ACCESS_TOKEN). */
  readonly accessToken: string | (() => string | undefined);
  /** The bot's own user id, `@warden:example.org`; checked against whoami on start. */
  readonly userId: string;
  readonly deviceId?: string;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  /** Whether our message `ref` carried a card (the bot's records survive a restart; our memory does not). */
  readonly isCard?: (ref: SentRef) => boolean;
  /** Whether to join a (non-direct) room `identity` (`matrix:@…`) invited the bot to; default: never. */
  readonly mayInvite?: (identity: string) => Promise<boolean>;
  /** How long start() waits for the first sync; default 60 s. */
  readonly startTimeoutMs?: number;
}

const MAX_ANSWERS_PER_CARD = 3;
export function createMatrixChannel(options: MatrixChannelOptions): Channel {
  const log = options.log ?? (() => undefined);
  const me = options.userId;
  let errors = createMatrixErrors("");
  const cards = createCardMemories(options.isCard);
  const ours = new Map<string, true>(); // event ids of our messages (a reply to one is a mention)
  const answers = new Map<string, number>();
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

  const upkeep = createRoomUpkeep({ me, client: must, call, mayInvite: options.mayInvite, log });
  const seedIo: SeedIo = {
    react: (roomId, content) => sendEvent(roomId, "m.reaction", content),
    redact: (roomId, eventId) =>
      call("redact", () => must().c.redactEvent(roomId, eventId)).then(
        () => undefined,
        (err: Error) => log("matrix.unseed_failed", { error: err.message }),
      ),
  };

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
      upkeep.encrypted(room.roomId);
      return;
    }
    if (what.kind === "reaction") {
      reaction(from, chat, room.roomId, what.target, what.key);
      return;
    }
    if (what.kind === "text") message(event, room, sender, from, chat, dmOf, what);
  }

  function message(
    event: MatrixEvent,
    room: Room,
    sender: string,
    from: { id: string; name: string },
    chat: Address,
    dmOf: string | undefined,
    what: Extract<Inbound, { kind: "text" }>,
  ): void {
    const eventId = event.getId() as string;
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
  ): void {
    const verdict = cards.judge(roomId, chat.chatId, target, key);
    if (verdict.kind === "ignored") {
      if (verdict.why === "not_a_card") log("matrix.reaction_not_on_card", {});
      return;
    }
    const { verb, ref } = verdict;
    const person = from.id.slice("matrix:".length);
    const answerKey = `${person}/${target}`;
    const reply = async (text: string): Promise<void> => {
      const n = answers.get(answerKey) ?? 0;
      if (n >= MAX_ANSWERS_PER_CARD) return log("matrix.answer_suppressed", {});
      remember(answers, answerKey, n + 1);
      await sendText({ platform: "matrix", chatId: person }, text);
    };
    if (verdict.kind === "not_offered") dispatch("action", () => reply(`This card has no "${verb}" option.`));
    else dispatch("action", (h) => h({ kind: "action", from, chat, data: verb, ref, reply }));
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
      const token = typeof options.accessToken === "string" ? options.accessToken : options.accessToken();
      if (!token)
        throw new Error(
          "Matrix: no access token (set MATRIX_ACCESS_TOKEN, or the Warden secret of that name)",
        );
      errors = createMatrixErrors(token);
      const c = createClient({
        baseUrl: options.homeserverUrl.replace(/\/+$/, ""),
        accessToken: token,
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
          upkeep
            .onInvite(room)
            .catch((err: unknown) => log("matrix.invite_failed", { error: errors.name(err) }));
      });
      const prepared = new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error("Matrix: the first /sync did not finish in time")),
          options.startTimeoutMs ?? 60_000,
        );
        c.on(ClientEvent.Sync, (state, prev, data) => {
          // Once running, the SDK retries by itself: say when syncing stops and when it is back.
          if (live && state === "ERROR" && prev !== "ERROR")
            log("matrix.sync_failing", { error: errors.name(data?.error) });
          if (live && state === "SYNCING" && (prev === "ERROR" || prev === "RECONNECTING"))
            log("matrix.sync_resumed", {});
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
      await cards.sent(eventId, roomId, to.chatId, offeredVerbs(card), seedIo);
      return { platform: "matrix", chatId: to.chatId, messageId: eventId };
    },
    async updateCard(ref, card) {
      const roomId = cards.roomOf(ref.messageId, ref.chatId) ?? (await roomOf(ref));
      await sendEvent(roomId, "m.room.message", editContent(ref.messageId, cardContent(card)));
      // After a restart our seeded reactions are unknown: they stay, and a late one hears "decided".
      if (!(await cards.updated(ref.messageId, offeredVerbs(card), seedIo)))
        log("matrix.card_not_remembered", {});
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
