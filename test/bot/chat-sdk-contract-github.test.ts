/**
 * The channel and approval-tap contracts on GitHub: the real `@chat-adapter/github` against the
 * fake GitHub (test/fakes/github-api.ts), every delivery signed with `x-hub-signature-256`. GitHub
 * has no private chats (`noPrivateChats`): the suite works in the agent's issue thread, and a tap is
 * the signed sender's `/approve <code>` comment, with the code the person read on the card. Replies
 * there are public comments (GitHub has nothing private), so each tap claims the next reply.
 */
import { readMarkdownCard } from "../../bot/channels/markdown-card.js";
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import {
  type ChatSdkRig,
  codeFor,
  githubRig,
  promptLabels,
  promptsOf,
  quietPause,
  readCodeCard,
  UNISSUED_CODE,
  until,
} from "../fakes/chat-sdk-world.js";
import { type FakeComment, type FakeGitHub, GITHUB_BOT } from "../fakes/github-api.js";

const THREAD = "github:acme/app:issue:7";
/** GitHub refuses comments over 65,536 characters. */
const GITHUB_LIMIT = 65_536;

const isCard = (c: FakeComment) => c.body.startsWith("**Warden: approval request**");
const byBot = (c: FakeComment) => c.user.id === GITHUB_BOT.id;
const user = (id: string) => ({ id: Number(id), login: `user${id}` });

function commentOf(r: ChatSdkRig<FakeGitHub>, messageId: string): FakeComment {
  const c = r.fake.comments.find((x) => String(x.id) === messageId);
  if (!c) throw new Error(`no comment ${messageId}`);
  return c;
}

/** What the bot said (not cards) in `threadId` after the `from`th comment, as people read it. */
function botTexts(r: ChatSdkRig<FakeGitHub>, threadId: string, from = 0): { id: number; text: string }[] {
  return r.fake
    .commentsIn(threadId)
    .slice(from)
    .filter((c) => byBot(c) && !isCard(c))
    .map((c) => {
      if (c.body.length > GITHUB_LIMIT) throw new Error("comment over GitHub's limit");
      return { id: c.id, text: readMarkdownCard(c.body) };
    });
}

channelContract("github", async () => {
  const r = await githubRig();
  return {
    channel: r.channel,
    maxTextLength: 60_000,
    noPrivateChats: true,
    chatFor: () => ({ platform: "github", chatId: THREAD }),
    async injectPrivateText(userId, text) {
      await r.fake.comment(r.listener.url, { user: user(userId), text });
    },
    textsIn: (chatId) => botTexts(r, chatId).map((t) => t.text),
    buttonsOn: (ref) => promptsOf(commentOf(r, ref.messageId).body).length,
    shownOn: (ref) => {
      const body = commentOf(r, ref.messageId).body;
      if (body.length > GITHUB_LIMIT) throw new Error("card over GitHub's limit");
      return { text: readCodeCard(body), buttons: promptLabels(body) };
    },
    close: r.close,
  };
});

approvalTapsContract("github", async () => {
  const r = await githubRig();
  const claimed = new Set<number>();
  return {
    channel: r.channel,
    noPrivateChats: true,
    groupChat: () => ({ platform: "github", chatId: THREAD }),
    async tap(userId, ref, data) {
      const card = r.fake.comments.find((x) => String(x.id) === ref.messageId);
      const code = codeFor(card?.versions ?? [], data) ?? UNISSUED_CODE;
      const from = r.fake.commentsIn(THREAD).length;
      const sent = await r.fake.comment(r.listener.url, {
        user: user(userId),
        text: `/${data.split(":").pop()} ${code}`,
      });
      if (sent.status !== 200) throw new Error(`GitHub delivery answered ${sent.status}`);
      const first = await until("the bot's answer", () =>
        botTexts(r, THREAD, from).find((t) => !claimed.has(t.id)),
      );
      claimed.add(first.id);
      return [first.text];
    },
    buttonsOn: (ref) => promptsOf(commentOf(r, ref.messageId).body).length,
    shownText: (ref) => readCodeCard(commentOf(r, ref.messageId).body),
    close: async () => {
      await quietPause();
      await r.close();
    },
  };
});
