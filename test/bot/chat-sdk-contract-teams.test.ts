/**
 * The channel and approval-tap contracts on Microsoft Teams: the real `@chat-adapter/teams` (and the
 * Teams SDK's own JWT check) against the fake Bot Framework connector (test/fakes/teams-api.ts),
 * every activity signed with an RS256 JWT from the local key server. People are known by Entra
 * object ids (`userIdOf`); a private chat is created on the first send (`privateChatsOpened`). A tap
 * is an Adaptive Card Action.Submit naming the card by `replyToId`; the bot answers in that chat.
 */
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import { type ChatSdkRig, readButtonCard, readCodeCard, teamsRig, until } from "../fakes/chat-sdk-world.js";
import type { FakeTeams, TeamsSent } from "../fakes/teams-api.js";

const CHANNEL_CONV = "19:abc@thread.tacv2;messageid=1700000000000";
const TENANT = "tenant-1";
const b64 = (s: string) => Buffer.from(s).toString("base64url");

/** An Entra object id for one of the suite's user ids ("701"). */
const objectId = (id: string) => `00000000-0000-4000-8000-${id.replace(/\D/g, "").padStart(12, "0")}`;

type Adaptive = {
  body: { text?: string }[];
  actions?: { type: string; title: string; data?: unknown; url?: string }[];
};
const adaptive = (a: Record<string, unknown>): Adaptive | undefined =>
  (a.attachments as { contentType: string; content: Adaptive }[] | undefined)?.find(
    (x) => x.contentType === "application/vnd.microsoft.card.adaptive",
  )?.content;
const latest = (s: TeamsSent): Adaptive | undefined => adaptive(s.edits.at(-1) ?? s.activity);

/** The conversations a chat id stands for: a thread's, or every 1:1 created for `teams:dm:<id>`. */
function conversationsOf(r: ChatSdkRig<FakeTeams>, chatId: string): string[] {
  if (chatId.startsWith("teams:dm:")) {
    const who = chatId.slice("teams:dm:".length);
    return r.fake.created.filter((c) => c.member === who).map((c) => c.id);
  }
  return [Buffer.from(chatId.split(":")[1] ?? "", "base64url").toString()];
}

/** The bot's plain texts (not cards) in `chatId`, from the `from`th activity on, as people read them. */
function textsIn(r: ChatSdkRig<FakeTeams>, chatId: string, from = 0): string[] {
  const convs = conversationsOf(r, chatId);
  return r.fake.sent
    .slice(from)
    .filter((s) => convs.includes(s.conversationId) && !adaptive(s.activity))
    .map((s) => readCodeCard(String(s.activity.text ?? "")));
}

function sentOf(r: ChatSdkRig<FakeTeams>, messageId: string): TeamsSent {
  const s = r.fake.sent.find((x) => x.id === messageId);
  if (!s) throw new Error(`no activity ${messageId}`);
  return s;
}
const submits = (s: TeamsSent) => latest(s)?.actions?.filter((a) => a.type === "Action.Submit") ?? [];
const cardText = (s: TeamsSent) =>
  readButtonCard((latest(s)?.body ?? []).map((b) => b.text ?? "").join("\n"));

channelContract("teams", async () => {
  const r = await teamsRig();
  return {
    channel: r.channel,
    maxTextLength: 12_000,
    // The channel keeps Action.Submit titles to 40 characters (Teams cuts long ones on narrow
    // screens): a longer grant label gets its short form, and the card text states the grant.
    buttonTitleMax: 40,
    userIdOf: objectId,
    privateChatsOpened: true,
    async injectPrivateText(userId, text) {
      await r.fake.deliver(r.listener.url, {
        from: { id: `29:${userId}`, name: "someone", aadObjectId: userId },
        conversation: { id: `a:dm-in-${userId}`, conversationType: "personal", tenantId: TENANT },
        text,
        channelData: { tenant: { id: TENANT } },
      });
    },
    textsIn: (chatId) => textsIn(r, chatId),
    buttonsOn: (ref) => submits(sentOf(r, ref.messageId)).length,
    shownOn: (ref) => {
      const s = sentOf(r, ref.messageId);
      return { text: cardText(s), buttons: submits(s).map((a) => readButtonCard(a.title)) };
    },
    close: r.close,
  };
});

approvalTapsContract("teams", async () => {
  const r = await teamsRig();
  return {
    channel: r.channel,
    userIdOf: objectId,
    groupChat: () => ({ platform: "teams", chatId: `teams:${b64(CHANNEL_CONV)}:${b64(r.fake.url)}` }),
    async tap(userId, ref, data) {
      const conversation = conversationsOf(r, ref.chatId)[0] ?? "";
      const from = r.fake.sent.length;
      const res = await r.fake.deliver(r.listener.url, {
        from: { id: `29:${userId}`, name: "someone", aadObjectId: userId },
        conversation: {
          id: conversation,
          conversationType: conversation.startsWith("19:") ? "channel" : "personal",
          tenantId: TENANT,
        },
        replyToId: ref.messageId,
        value: { actionId: "w", value: data },
        channelData: { tenant: { id: TENANT } },
      });
      if (res.status !== 200) throw new Error(`Teams delivery answered ${res.status}`);
      await until("the bot's answer", () => (textsIn(r, ref.chatId, from).length > 0 ? true : undefined));
      await new Promise((res) => setTimeout(res, 100));
      return textsIn(r, ref.chatId, from);
    },
    buttonsOn: (ref) => submits(sentOf(r, ref.messageId)).length,
    shownText: (ref) => cardText(sentOf(r, ref.messageId)),
    close: r.close,
  };
});
