/**
 * The channel and approval-tap contracts on Google Chat: the real `@chat-adapter/gchat` (and its own
 * JWT check) against the fake Chat API (test/fakes/gchat-api.ts), every add-on event signed with an
 * RS256 JWT as chat@system.gserviceaccount.com signs it. People are `users/<n>` (`userIdOf`); a DM
 * space is found on the first send (`privateChatsOpened`). A tap is a card click naming the card
 * message; the bot answers in the card's thread.
 *
 * Deliveries are not paced: Google's tokens carry no nonce, so two events in one second may share a
 * token; the replay guard keys on token AND body (bot/webhooks/jwt-verifiers.ts), so both count.
 */
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import { type ChatSdkRig, gchatRig, readButtonCard, until } from "../fakes/chat-sdk-world.js";
import type { FakeGchat, GchatSent } from "../fakes/gchat-api.js";

const ROOM = "spaces/ROOM1";
const digits = (id: string) => id.replace(/\D/g, "");

type GButton = { text: string; onClick: { action?: unknown; openLink?: { url: string } } };
type GCard = { card: { sections: { widgets: Record<string, unknown>[] }[] } };
const cardOf = (body: Record<string, unknown>): GCard | undefined =>
  (body.cardsV2 as GCard[] | undefined)?.[0];
const latest = (s: GchatSent): GCard | undefined => cardOf(s.edits.at(-1) ?? s.body);
const actionButtons = (c: GCard | undefined): GButton[] =>
  (c?.card.sections ?? []).flatMap((s) =>
    s.widgets.flatMap((x) =>
      ((x.buttonList as { buttons: GButton[] } | undefined)?.buttons ?? []).filter((b) => b.onClick.action),
    ),
  );
const cardText = (c: GCard | undefined): string =>
  readButtonCard(
    (c?.card.sections ?? [])
      .flatMap((s) => s.widgets.map((x) => (x.textParagraph as { text?: string } | undefined)?.text ?? ""))
      .join("\n"),
  );

/** The space a chat id names: `gchat:dm:users/<n>` is that person's DM space. */
function spaceOf(chatId: string): string {
  if (chatId.startsWith("gchat:dm:")) return `spaces/dm-${digits(chatId)}`;
  return chatId.split(":")[1] ?? "";
}

function sentOf(r: ChatSdkRig<FakeGchat>, messageId: string): GchatSent {
  const s = r.fake.sent.find((x) => x.name === messageId);
  if (!s) throw new Error(`no message ${messageId}`);
  return s;
}

/** The bot's plain texts in the chat's space, from the `from`th message on, as people read them. */
const textsIn = (r: ChatSdkRig<FakeGchat>, chatId: string, from = 0): string[] =>
  r.fake.sent
    .slice(from)
    .filter((s) => s.space === spaceOf(chatId) && !cardOf(s.body) && typeof s.body.text === "string")
    .map((s) => readButtonCard(String(s.body.text)));

/** Delivers a signed event as Google does, without waiting between deliveries. */
function direct(r: ChatSdkRig<FakeGchat>) {
  return (event: Record<string, unknown>) => r.fake.deliver(r.listener.url, event);
}

channelContract("gchat", async () => {
  const r = await gchatRig();
  const deliver = direct(r);
  return {
    channel: r.channel,
    maxTextLength: 4096,
    userIdOf: (id) => `users/${digits(id)}`,
    privateChatsOpened: true,
    // The channel keeps button labels to 40 characters; a longer grant label gets its short form.
    buttonTitleMax: 40,
    async injectPrivateText(userId, text) {
      const dm = { name: `spaces/dm-${digits(userId)}`, type: "DM" as const };
      await deliver(r.fake.message({ name: userId, displayName: "someone" }, dm, text));
    },
    textsIn: (chatId) => textsIn(r, chatId),
    buttonsOn: (ref) => actionButtons(latest(sentOf(r, ref.messageId))).length,
    shownOn: (ref) => {
      const c = latest(sentOf(r, ref.messageId));
      return { text: cardText(c), buttons: actionButtons(c).map((b) => readButtonCard(b.text)) };
    },
    close: r.close,
  };
});

approvalTapsContract("gchat", async () => {
  const r = await gchatRig();
  const deliver = direct(r);
  return {
    channel: r.channel,
    userIdOf: (id) => `users/${digits(id)}`,
    groupChat: () => ({
      platform: "gchat",
      chatId: `gchat:${ROOM}:${Buffer.from(`${ROOM}/threads/agent`).toString("base64url")}`,
    }),
    async tap(userId, ref, data) {
      const from = r.fake.sent.length;
      const res = await deliver(
        r.fake.click({ name: userId, displayName: "someone" }, sentOf(r, ref.messageId), {
          actionId: "w",
          value: data,
        }),
      );
      if (res.status !== 200) throw new Error(`Google Chat delivery answered ${res.status}`);
      await until("the bot's answer", () => (textsIn(r, ref.chatId, from).length > 0 ? true : undefined));
      await new Promise((res) => setTimeout(res, 100));
      return textsIn(r, ref.chatId, from);
    },
    buttonsOn: (ref) => actionButtons(latest(sentOf(r, ref.messageId))).length,
    shownText: (ref) => cardText(latest(sentOf(r, ref.messageId))),
    close: r.close,
  };
});
