/**
 * The Matrix channel driven through the real matrix-js-sdk 37.5 against our fake homeserver on
 * 127.0.0.1 (test/fakes/matrix-homeserver.ts): the shared channel and approval-tap contracts, then
 * Matrix specifics and the attacks (reactions by strangers, on non-cards, across rooms, our own
 * seeded reactions coming back, history, edits, encrypted rooms, invites, a wrong token).
 */
import { vi } from "vitest";
import { KEYS, type Verb } from "../../bot/channels/matrix/card-content.js";
import { createMatrixChannel } from "../../bot/channels/matrix/index.js";
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import { type FakeHomeserver, startFakeHomeserver } from "../fakes/matrix-homeserver.js";

/** A notice as a person reads it in Element: the HTML's text, entities undone, one line per block. */
export function readNotice(hs: FakeHomeserver, eventId: string): string {
  const c = hs.shown(eventId) ?? {};
  const html = String(c.formatted_body ?? c.body ?? "");
  return html
    .replace(/<br>|<\/p>|<\/pre>/g, "\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

export const userIdOf = (id: string): string => `@${id}:hs.test`;

export async function matrixWorld() {
  const hs = await startFakeHomeserver();
  const logs: { event: string; fields: Record<string, unknown> }[] = [];
  const channel = createMatrixChannel({
    homeserverUrl: hs.baseUrl,
    accessToken: hs.token,
    userId: hs.botId,
    log: (event, fields) => void logs.push({ event, fields }),
  });
  /** The bot's texts in `chatId` (a person: their DM rooms; else the room). */
  const textsIn = (chatId: string): string[] =>
    (chatId.startsWith("@") ? hs.dmRoomsOf(chatId) : [chatId]).flatMap((r) => hs.botTexts(r));
  return { hs, channel, logs, textsIn };
}

channelContract("matrix", async () => {
  const { hs, channel, textsIn } = await matrixWorld();
  return {
    channel,
    maxTextLength: 4000,
    userIdOf,
    injectPrivateText: (user, text) => void hs.text(hs.dmRoom(user), user, text),
    textsIn,
    buttonsOn: (ref) => hs.botReactionsOn(ref.messageId).length,
    noButtons: true,
    shownOn: (ref) => ({ text: readNotice(hs, ref.messageId), buttons: [] }),
    close: () => hs.close(),
  };
});

approvalTapsContract("matrix", async () => {
  const { hs, channel } = await matrixWorld();
  const group = hs.createRoom({ members: ["701", "702", "709", "666"].map(userIdOf), name: "Family" });
  const answersTo = (user: string) => hs.dmRoomsOf(user).flatMap((r) => hs.botTexts(r));
  return {
    channel,
    userIdOf,
    gesturesCarryNoCount: true,
    // A ✅ on any other message is just a reaction: nothing is said, nothing decided.
    otherGesturesAreChat: true,
    groupChat: () => ({ platform: "matrix", chatId: group }),
    async tap(user, ref, data) {
      const verb = (data.split(":").pop() ?? data) as Verb;
      const room = hs.roomOfEvent(ref.messageId);
      if (!room) throw new Error(`no event ${ref.messageId}`);
      const before = answersTo(user).length;
      hs.react(room, user, ref.messageId, KEYS[verb]);
      return vi
        .waitFor(
          () => {
            const now = answersTo(user);
            if (now.length <= before) throw new Error("no answer yet");
            return now.slice(before);
          },
          { timeout: 5000, interval: 20 },
        )
        .catch(() => [] as string[]);
    },
    buttonsOn: (ref) => hs.botReactionsOn(ref.messageId).length,
    shownText: (ref) => readNotice(hs, ref.messageId),
    close: () => hs.close(),
  };
});
