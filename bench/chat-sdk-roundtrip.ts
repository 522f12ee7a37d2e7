/**
 * The approval round trip on the five Chat SDK platforms, for `npm run bench`: the real gateway and
 * bot in-process (approval.ts), each platform's real adapter behind our webhook listener, against our
 * fake of that platform on 127.0.0.1. A held request's card reaches the fake; the tap comes back as
 * a webhook signed as the platform signs it (Teams and Google Chat RS256 JWTs from a local key
 * server, GitHub/WhatsApp `x-hub-signature-256`, Linear `linear-signature` + timestamp), through
 * verification, age and replay checks, to the request's release upstream. Telegram runs first in the
 * same run as the reference: each platform's p50 is also given as a ratio of Telegram's, so a busy
 * machine skews the comparison less than it skews the milliseconds. No assertions: it reports.
 */
import { randomUUID } from "node:crypto";
import type { Address, Channel } from "../bot/channel.js";
import {
  type ChatSdkSettings,
  chatSdkPlatforms,
  createChatSdkChannels,
} from "../bot/channels/chat-sdk/index.js";
import { startWebhookListener, type WebhookListener } from "../bot/webhooks/index.js";
import { createFakeChannel } from "../test/fakes/fake-channel.js";
import { startFakeGchat } from "../test/fakes/gchat-api.js";
import { startFakeGitHub } from "../test/fakes/github-api.js";
import { startFakeLinear } from "../test/fakes/linear-api.js";
import { startPlatformKeys } from "../test/fakes/platform-jwt.js";
import { startFakeTeams } from "../test/fakes/teams-api.js";
import { startFakeWaCloud } from "../test/fakes/wacloud-api.js";
import { fmt, measureDriver } from "./approval.js";
import { type ApprovalDriver, telegramDriver } from "./approval-drivers.js";
import { percentile } from "./load.js";

async function poll<T>(f: () => T | undefined, what: string): Promise<T> {
  const end = Date.now() + 15_000;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** One Chat SDK channel for `settings`, behind its own webhook listener. */
async function chatSdkChannel(settings: ChatSdkSettings): Promise<{ channel: Channel; l: WebhookListener }> {
  const l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  const platforms = await chatSdkPlatforms(settings);
  const [channel] = createChatSdkChannels({ platforms, listener: l, log: () => undefined });
  if (!channel) throw new Error("no channel");
  return { channel, l };
}

export async function teamsDriver(): Promise<ApprovalDriver> {
  const APP_ID = "00000000-aaaa-4bbb-8ccc-0000000000b1";
  const OWNER = { id: "29:olive", name: "Olive", aadObjectId: "0b0b0b0b-0000-4000-8000-00000000000b" };
  const keys = await startPlatformKeys();
  const fake = await startFakeTeams({ appId: APP_ID, keys });
  const { channel, l } = await chatSdkChannel({
    teams: {
      appId: APP_ID,
      appPassword: "bench-password",
      tenantId: "t1",
      apiUrl: fake.url,
      tokenUrl: fake.tokenUrl,
      openIdMetadataUrl: keys.openIdMetadataUrl,
    },
  });
  type Adaptive = { actions?: { type: string; title: string; data?: unknown }[] };
  const adaptive = (a: Record<string, unknown>) =>
    (a.attachments as { contentType: string; content: Adaptive }[] | undefined)?.find(
      (x) => x.contentType === "application/vnd.microsoft.card.adaptive",
    )?.content;
  const seen = new Set<string>();
  return {
    name: "Teams (signed JWT tap)",
    channel,
    owner: { identity: `teams:${OWNER.aadObjectId}`, chat: channel.privateChat(OWNER.aadObjectId) },
    async nextCard() {
      const card = await poll(
        () => fake.sent.find((s) => !seen.has(s.id) && adaptive(s.activity)?.actions?.length),
        "a Teams card",
      );
      seen.add(card.id);
      const data = adaptive(card.activity)?.actions?.find((a) => a.title === "Approve")?.data;
      const conversation = { id: card.conversationId, conversationType: "personal", tenantId: "t1" };
      return () => void fake.deliver(l.url, { from: OWNER, conversation, replyToId: card.id, value: data });
    },
    close: async () => {
      await l.close();
      await fake.close();
      await keys.close();
    },
  };
}

export async function gchatDriver(): Promise<ApprovalDriver> {
  const PROJECT = "4242";
  const OWNER = { name: "users/500", displayName: "Olive" };
  const keys = await startPlatformKeys();
  const fake = await startFakeGchat({ projectNumber: PROJECT, keys });
  const { channel, l } = await chatSdkChannel({
    gchat: {
      credentials: fake.credentials,
      projectNumber: PROJECT,
      endpointUrl: "https://warden.example.test/webhooks/gchat",
      apiUrl: fake.url,
      certsUrl: keys.certsUrl,
    },
  });
  type Button = { text: string; onClick: { action?: { parameters: { key: string; value: string }[] } } };
  const buttons = (body: Record<string, unknown>): Button[] =>
    ((body.cardsV2 as { card: { sections: { widgets: Record<string, unknown>[] }[] } }[] | undefined) ?? [])
      .flatMap((c) => c.card.sections)
      .flatMap((s) => s.widgets)
      .flatMap((w) => (w.buttonList as { buttons: Button[] } | undefined)?.buttons ?? []);
  const seen = new Set<string>();
  return {
    name: "Google Chat (signed JWT click)",
    channel,
    owner: { identity: `gchat:${OWNER.name}`, chat: channel.privateChat(OWNER.name) },
    async nextCard() {
      const card = await poll(
        () => fake.sent.find((s) => !seen.has(s.name) && buttons(s.body).length > 0),
        "a Google Chat card",
      );
      seen.add(card.name);
      const params = buttons(card.body).find((b) => b.text === "Approve")?.onClick.action?.parameters ?? [];
      const click = fake.click(OWNER, card, Object.fromEntries(params.map((p) => [p.key, p.value])));
      // Our verifier takes a Google token once; RS256 is deterministic, so two clicks signed in the
      // same second with the same claims would be one token: a jti keeps each delivery's its own.
      return () => void fake.deliver(l.url, click, { claims: { jti: randomUUID() } });
    },
    close: async () => {
      await l.close();
      await fake.close();
      await keys.close();
    },
  };
}

/**
 * GitHub and Linear have no private chats: the owner's private chat is on an in-memory channel, the
 * card also goes to the agent's thread, and she answers there as `tapper` (linked to her).
 */
function ownerElsewhere(agentChat: Address, tapper: string): Pick<ApprovalDriver, "owner" | "thread"> {
  const dm = createFakeChannel({ platform: "fake" });
  return {
    owner: { identity: "fake:olive", chat: dm.channel.privateChat("olive") },
    thread: { agentChat, tapper, dmChannel: dm.channel },
  };
}

/**
 * A card's code is live once the adapter's post returns (Linear's makes a follow-up query first, and
 * its first post also looks the bot up): a person needs seconds to reply, the bench microseconds, and
 * an early reply is answered "not valid". So the bench waits this long after the code appears, and
 * takes the wait back out of request → card (`settleMs`).
 */
const CODE_SETTLE_MS = 500;

type Driver = ApprovalDriver & { readonly settleMs?: number };

const codeOf = (body: string) => /`\/approve ([a-z0-9]{6})`/.exec(body)?.[1];

export async function githubDriver(): Promise<Driver> {
  const SECRET = "bench-github-secret";
  const OWNER = { id: 701, login: "olive" };
  const gh = await startFakeGitHub(SECRET);
  const { channel, l } = await chatSdkChannel({
    github: { webhookSecret: SECRET, token: "ghp_bench", apiUrl: gh.url },
  });
  const thread = "github:acme/app:issue:7";
  const seen = new Set<string>();
  return {
    name: "GitHub (signed `/approve <code>` comment)",
    settleMs: CODE_SETTLE_MS,
    channel,
    ...ownerElsewhere({ platform: "github", chatId: thread }, `github:${OWNER.id}`),
    async nextCard() {
      const code = await poll(() => {
        const c = gh.commentsIn(thread).map((x) => codeOf(x.body));
        return c.find((x) => x !== undefined && !seen.has(x));
      }, "a GitHub card");
      seen.add(code);
      await new Promise((r) => setTimeout(r, CODE_SETTLE_MS));
      return () => void gh.comment(l.url, { user: OWNER, text: `/approve ${code}` });
    },
    close: async () => {
      await l.close();
      await gh.close();
    },
  };
}

export async function linearDriver(): Promise<Driver> {
  const SECRET = "bench-linear-secret";
  const OWNER = { id: "u-701", name: "olive" };
  const fake = await startFakeLinear(SECRET);
  const { channel, l } = await chatSdkChannel({
    linear: { apiKey: "lin_api_bench", webhookSecret: SECRET, apiUrl: fake.url },
  });
  const seen = new Set<string>();
  return {
    name: "Linear (signed `/approve <code>` comment)",
    settleMs: CODE_SETTLE_MS,
    channel,
    ...ownerElsewhere({ platform: "linear", chatId: "linear:iss-1" }, `linear:${OWNER.id}`),
    async nextCard() {
      const code = await poll(
        () => fake.comments.map((x) => codeOf(x.body)).find((x) => x !== undefined && !seen.has(x)),
        "a Linear card",
      );
      seen.add(code);
      await new Promise((r) => setTimeout(r, CODE_SETTLE_MS));
      return () => void fake.comment(l.url, { issueId: "iss-1", user: OWNER, text: `/approve ${code}` });
    },
    close: async () => {
      await l.close();
      await fake.close();
    },
  };
}

export async function wacloudDriver(): Promise<ApprovalDriver> {
  const SECRET = "bench-meta-app-secret";
  const PNID = "1000001";
  const OWNER = "447700900123";
  const fake = await startFakeWaCloud({ appSecret: SECRET, phoneNumberId: PNID });
  const { channel, l } = await chatSdkChannel({
    wacloud: {
      accessToken: "EAAbench",
      appSecret: SECRET,
      phoneNumberId: PNID,
      verifyToken: "vt",
      apiUrl: fake.url,
    },
  });
  const seen = new Set<string>();
  return {
    name: "WhatsApp Cloud (signed button reply)",
    channel,
    owner: { identity: `wacloud:${OWNER}`, chat: channel.privateChat(OWNER) },
    async nextCard() {
      const card = await poll(
        () => fake.sent.find((m) => !seen.has(m.id) && m.to === OWNER && m.buttons.length > 0),
        "a WhatsApp Cloud card",
      );
      seen.add(card.id);
      const b = card.buttons.find((x) => x.title === "Approve");
      return () =>
        void fake.tap(l.url, { from: OWNER, cardId: card.id, buttonId: b?.id ?? "", title: b?.title ?? "" });
    },
    close: async () => {
      await l.close();
      await fake.close();
    },
  };
}

/** Report lines: Telegram as the reference, then the five Chat SDK platforms with ratios to it. */
export async function benchChatSdkRoundTrips(runs = 30): Promise<string[]> {
  const lines = [
    `Chat SDK approval round trip (${runs} runs each; held → card at the fake platform → signed tap webhook → released upstream; ×: p50 over Telegram's in this run):`,
  ];
  const p50 = (xs: number[]) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    );
  let ref: { card: number; tap: number } | undefined;
  for (const make of [telegramDriver, teamsDriver, gchatDriver, githubDriver, linearDriver, wacloudDriver]) {
    let driver: Driver | undefined;
    try {
      driver = await make();
      process.stderr.write(`bench: ${driver.name} round trips… `);
      const measured = await measureDriver(driver, runs);
      const toCard = measured.toCard.map((x) => x - (driver?.settleMs ?? 0));
      const all = measured.toUpstream;
      process.stderr.write("done\n");
      // A request that never reached the upstream (refused, not released) has no time: say so.
      const toUpstream = all.filter((x) => Number.isFinite(x));
      const lost = all.length - toUpstream.length;
      const card = p50(toCard);
      const tap = p50(toUpstream);
      ref ??= { card, tap };
      const ratio = (v: number, r: number) => (r > 0 ? ` ×${(v / r).toFixed(2)}` : "");
      lines.push(
        `  ${driver.name}: request → card ${fmt(toCard)}${ratio(card, ref.card)}; tap → upstream ${fmt(toUpstream)}${ratio(tap, ref.tap)}${lost ? ` (${lost} of ${runs} NOT released)` : ""}`,
      );
    } catch (err) {
      process.stderr.write("failed\n");
      lines.push(`  ${driver?.name ?? make.name}: failed: ${(err as Error).message.split("\n")[0]}`);
    } finally {
      await driver?.close().catch(() => undefined);
    }
  }
  return lines;
}
