/**
 * Teams refuses a bot activity over about 28 KB (413 MessageSizeTooBig), and the fake here refuses it
 * too. A hostile agent's card (a reason and body of 3-byte characters, quotes and emoji that JSON
 * and UTF-8 make larger than their character count) must still arrive, cut honestly: every cut says
 * how many characters are not shown, and the full-request link survives. Long text of the same kind
 * arrives split, every character delivered. Real `@chat-adapter/teams` against the fake connector.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Address, Card, Channel } from "../../bot/channel.js";
import { createChatSdkChannels } from "../../bot/channels/chat-sdk/chat-sdk-channel.js";
import { chatSdkPlatforms } from "../../bot/channels/chat-sdk/platforms.js";
import { readMarkdownCard } from "../../bot/channels/markdown-card.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { type PlatformKeys, startPlatformKeys } from "../fakes/platform-jwt.js";
import { type FakeTeams, startFakeTeams, TEAMS_MAX_ACTIVITY_BYTES } from "../fakes/teams-api.js";

const APP_ID = "00000000-aaaa-4bbb-8ccc-000000000002";
const CONV = "19:size@thread.tacv2;messageid=1700000000001";
const b64 = (s: string) => Buffer.from(s).toString("base64url");

let keys: PlatformKeys;
let fake: FakeTeams;
let l: WebhookListener;
let channel: Channel;
let to: Address;

async function setUp(): Promise<void> {
  keys = await startPlatformKeys();
  fake = await startFakeTeams({ appId: APP_ID, keys });
  l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  [channel] = createChatSdkChannels({
    platforms: await chatSdkPlatforms({
      teams: {
        appId: APP_ID,
        appPassword: "teams-size-password",
        tenantId: "tenant-1",
        apiUrl: fake.url,
        tokenUrl: fake.tokenUrl,
        openIdMetadataUrl: keys.openIdMetadataUrl,
      },
    }),
    listener: l,
    log: () => undefined,
  }) as [Channel];
  await channel.start(async () => undefined);
  to = { platform: "teams", chatId: `teams:${b64(CONV)}:${b64(fake.url)}` };
}
afterEach(async () => {
  await channel?.stop();
  await l?.close();
  await fake?.close();
  await keys?.close();
});

type Adaptive = { body: { text?: string }[]; actions?: { type: string; title: string; url?: string }[] };
const adaptive = (a: Record<string, unknown>): Adaptive =>
  (a.attachments as { contentType: string; content: Adaptive }[]).find(
    (x) => x.contentType === "application/vnd.microsoft.card.adaptive",
  )?.content as Adaptive;
const LINK = "https://warden.example/approvals/00000000-0000-4000-8000-000000000001";

/** An agent doing its worst with size: every character costs 3 or 4 bytes on the wire. */
function hostileCard(n: number): Card {
  return {
    title: "demo wants POST https://api.example.com/things",
    lines: [{ label: "URL", value: `https://api.example.com/${"漢".repeat(n)}` }],
    agentSays: `"\\${"😀".repeat(n)}`,
    body: { text: `{"k":"${'€"'.repeat(n)}"}`, hidden: 0 },
    link: LINK,
    status: "Waiting: 0 of 1 approvals",
    buttons: [
      { label: "Approve", data: "a:x:approve", style: "primary" },
      { label: "Deny", data: "a:x:deny", style: "danger" },
    ],
  };
}

describe("Teams: message size", () => {
  it("a hostile card fits, every cut is counted and the full-request link survives", async () => {
    await setUp();
    for (const n of [3_000, 12_000, 40_000]) {
      const ref = await channel.sendCard(to, hostileCard(n));
      const sent = fake.sent.find((s) => s.id === ref.messageId);
      expect(sent, `card of ${n}`).toBeDefined();
      const wire = Buffer.byteLength(JSON.stringify(sent!.activity));
      expect(wire).toBeLessThanOrEqual(TEAMS_MAX_ACTIVITY_BYTES);
      const c = adaptive(sent!.activity);
      const text = c.body.map((b) => b.text ?? "").join("\n");
      // Cut honestly: the reader learns how much is missing, and where to see it.
      expect(text).toMatch(/\d+ more characters not shown/);
      expect(c.actions?.some((a) => a.url === LINK)).toBe(true);
      // Its update (decided: no buttons) fits too.
      await channel.updateCard(ref, { ...hostileCard(n), status: "Approved by Ann", buttons: [] });
      const edited = sent!.edits.at(-1);
      expect(edited).toBeDefined();
      expect(Buffer.byteLength(JSON.stringify(edited))).toBeLessThanOrEqual(TEAMS_MAX_ACTIVITY_BYTES);
    }
    expect(fake.tooBig).toEqual([]);
  });

  it("long text of multi-byte characters is split into parts that fit, nothing lost", async () => {
    await setUp();
    const words = Array.from({ length: 6_000 }, (_, i) => `${"漢".repeat(9)}${i % 10}`).join(" ");
    const before = fake.sent.length;
    await channel.sendText(to, words);
    const parts = fake.sent.slice(before);
    expect(fake.tooBig).toEqual([]);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts)
      expect(Buffer.byteLength(JSON.stringify(p.activity))).toBeLessThanOrEqual(TEAMS_MAX_ACTIVITY_BYTES);
    const read = parts.map((p) => readMarkdownCard(String(p.activity.text ?? ""))).join(" ");
    expect(read.replace(/\s+/g, " ").trim()).toBe(words);
  });
});
