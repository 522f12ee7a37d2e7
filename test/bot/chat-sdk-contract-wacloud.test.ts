/**
 * The channel and approval-tap contracts on WhatsApp Business (Cloud API): the real
 * `@chat-adapter/whatsapp` against the fake Graph API (test/fakes/wacloud-api.ts), every delivery
 * signed with `x-hub-signature-256` and a signed message timestamp. The platform cannot edit
 * (`noEdits`: decisions follow as messages, so batch card messages are frozen when sent) and has no
 * groups (`noGroupChats`). A tap is a button reply naming the card by `context.id`; the harness only
 * presses buttons the card really shows, except on a message that was no card, where it forges one.
 */
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import { type ChatSdkRig, readButtonCard, until, wacloudRig } from "../fakes/chat-sdk-world.js";
import type { FakeWaCloud, SentWa } from "../fakes/wacloud-api.js";

/** WhatsApp's own limits: text 4096, interactive body 1024, 3 reply buttons of 20 characters. */
const TEXT_LIMIT = 4096;

/** The phone number a `whatsapp:<phoneNumberId>:<wa_id>` thread talks to. */
const phoneOf = (chatId: string): string => chatId.split(":").pop() ?? "";

function messageOf(r: ChatSdkRig<FakeWaCloud>, id: string): SentWa {
  const m = r.fake.sent.find((x) => x.id === id);
  if (!m) throw new Error(`no message ${id}`);
  if ((m.body ?? "").length > 1024 || m.buttons.length > 3 || m.buttons.some((b) => b.title.length > 20))
    throw new Error("interactive message over WhatsApp's limits");
  return m;
}

const textsTo = (r: ChatSdkRig<FakeWaCloud>, phone: string, from = 0): string[] =>
  r.fake.sent
    .slice(from)
    .filter((m) => m.to === phone && m.type === "text")
    .map((m) => {
      if ((m.text ?? "").length > TEXT_LIMIT) throw new Error("text over WhatsApp's limit");
      return m.text ?? "";
    });

/** The value a reply button carries (the adapter's `chat:{"a":…,"v":…}` callback id). */
const buttonValue = (buttonId: string): string | undefined => {
  try {
    const v = (JSON.parse(buttonId.replace(/^chat:/, "")) as { v?: unknown }).v;
    return typeof v === "string" ? v : undefined;
  } catch {
    return undefined;
  }
};

channelContract("wacloud", async () => {
  const r = await wacloudRig();
  return {
    channel: r.channel,
    maxTextLength: TEXT_LIMIT,
    noEdits: true,
    buttonTitleMax: 20,
    async injectPrivateText(userId, text) {
      await r.fake.text(r.listener.url, { from: userId, text });
    },
    textsIn: (chatId) => textsTo(r, phoneOf(chatId)),
    buttonsOn: (ref) => messageOf(r, ref.messageId).buttons.length,
    shownOn: (ref) => {
      const m = messageOf(r, ref.messageId);
      return { text: readButtonCard(m.body ?? ""), buttons: m.buttons.map((b) => readButtonCard(b.title)) };
    },
    close: r.close,
  };
});

approvalTapsContract("wacloud", async () => {
  const r = await wacloudRig();
  // The bot's answer to a tap is one line; a decision follow-up is the card's title and outcome.
  const isFollowUp = (t: string) => t.includes("\n");
  return {
    channel: r.channel,
    noEdits: true,
    noGroupChats: true,
    gesturesCarryNoCount: true,
    async tap(userId, ref, data) {
      const card = r.fake.sent.find((m) => m.id === ref.messageId);
      const verb = data.split(":").pop();
      // A bare verb (no count): the card's own button for it, as a person presses it.
      const button = card?.buttons.find((b) =>
        data.includes(":") ? buttonValue(b.id) === data : buttonValue(b.id)?.endsWith(`:${verb}`),
      );
      if (!button && card?.buttons.length) throw new Error(`the card shows no button for ${data}`);
      const pressed = button ?? { id: `chat:${JSON.stringify({ a: "w", v: data })}`, title: "Approve" };
      const from = r.fake.sent.length;
      const res = await r.fake.tap(r.listener.url, {
        from: userId,
        cardId: ref.messageId,
        buttonId: pressed.id,
        title: pressed.title,
      });
      if (res.status !== 200) throw new Error(`WhatsApp delivery answered ${res.status}`);
      const answers = () => textsTo(r, userId, from).filter((t) => !isFollowUp(t));
      await until("the bot's answer", () => (answers().length > 0 ? true : undefined));
      await new Promise((res) => setTimeout(res, 100));
      return answers();
    },
    followUps: (ref) => {
      const at = r.fake.sent.findIndex((m) => m.id === ref.messageId);
      return textsTo(r, messageOf(r, ref.messageId).to, at + 1);
    },
    buttonsOn: (ref) => messageOf(r, ref.messageId).buttons.length,
    shownText: (ref) => readButtonCard(messageOf(r, ref.messageId).body ?? ""),
    close: r.close,
  };
});
