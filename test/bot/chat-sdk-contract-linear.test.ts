/**
 * The channel and approval-tap contracts on Linear: the real `@chat-adapter/linear` against the fake
 * Linear GraphQL API (test/fakes/linear-api.ts), every delivery signed (`linear-signature`, signed
 * `webhookTimestamp`). Linear has no private chats (`noPrivateChats`): the channel cases work in a
 * comment thread of the agent's issue, the tap cases on the card in the issue, and a tap is the
 * signed sender's `/approve <code>` comment with the code the person read. The bot answers a tap in
 * that comment's thread.
 */
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import {
  type ChatSdkRig,
  codeFor,
  linearRig,
  promptLabels,
  promptsOf,
  readCodeCard,
  UNISSUED_CODE,
  until,
} from "../fakes/chat-sdk-world.js";
import { type FakeLinear, LINEAR_BOT, type LinearComment } from "../fakes/linear-api.js";

const ISSUE = "iss-1";
/** A comment thread in the issue (someone's comment the channel cases reply under). */
const ROOT = "root-1";
const COMMENT_THREAD = `linear:${ISSUE}:c:${ROOT}`;

const isCard = (c: LinearComment) => c.body.startsWith("**Warden: approval request**");
const user = (id: string) => ({ id, name: `user${id}` });

function commentOf(r: ChatSdkRig<FakeLinear>, messageId: string): LinearComment {
  const c = r.fake.comments.find((x) => x.id === messageId);
  if (!c) throw new Error(`no comment ${messageId}`);
  return c;
}

/** The bot's texts (not cards) in `linear:<issue>` or `linear:<issue>:c:<root>`, as people read them. */
function botTexts(r: ChatSdkRig<FakeLinear>, chatId: string): string[] {
  const [, issue, , root] = chatId.split(":");
  return r.fake.comments
    .filter(
      (c) =>
        c.userId === LINEAR_BOT.id &&
        c.issueId === issue &&
        (root === undefined || c.parentId === root || c.id === root) &&
        !isCard(c),
    )
    .map((c) => readCodeCard(c.body));
}

async function rigWithThread(): Promise<ChatSdkRig<FakeLinear>> {
  const r = await linearRig();
  r.fake.comments.push({ id: ROOT, body: "Agent demo", issueId: ISSUE, userId: "u-owner" });
  return r;
}

channelContract("linear", async () => {
  const r = await rigWithThread();
  return {
    channel: r.channel,
    maxTextLength: 50_000,
    noPrivateChats: true,
    chatFor: () => ({ platform: "linear", chatId: COMMENT_THREAD }),
    async injectPrivateText(userId, text) {
      await r.fake.comment(r.listener.url, { issueId: ISSUE, parentId: ROOT, user: user(userId), text });
    },
    textsIn: (chatId) => botTexts(r, chatId),
    buttonsOn: (ref) => promptsOf(commentOf(r, ref.messageId).body).length,
    shownOn: (ref) => {
      const body = commentOf(r, ref.messageId).body;
      return { text: readCodeCard(body), buttons: promptLabels(body) };
    },
    close: r.close,
  };
});

approvalTapsContract("linear", async () => {
  const r = await rigWithThread();
  return {
    channel: r.channel,
    noPrivateChats: true,
    groupChat: () => ({ platform: "linear", chatId: `linear:${ISSUE}` }),
    async tap(userId, ref, data) {
      const card = r.fake.comments.find((x) => x.id === ref.messageId);
      const code = codeFor(card?.versions ?? [], data) ?? UNISSUED_CODE;
      const sent = await r.fake.comment(r.listener.url, {
        issueId: ISSUE,
        user: user(userId),
        text: `/${data.split(":").pop()} ${code}`,
      });
      if (sent.status !== 200) throw new Error(`Linear delivery answered ${sent.status}`);
      // The tap comment is the newest comment by that user; the answer is posted under it.
      const mine = r.fake.comments.filter((c) => c.userId === userId).at(-1)?.id;
      const answers = () =>
        r.fake.comments.filter((c) => c.userId === LINEAR_BOT.id && c.parentId === mine && !isCard(c));
      await until("the bot's answer", () => (answers().length > 0 ? true : undefined));
      await new Promise((res) => setTimeout(res, 100));
      return answers().map((c) => readCodeCard(c.body));
    },
    buttonsOn: (ref) => promptsOf(commentOf(r, ref.messageId).body).length,
    shownText: (ref) => readCodeCard(commentOf(r, ref.messageId).body),
    close: r.close,
  };
});
