import { describe, expect, it } from "vitest";
import type { ApprovalView } from "../../gateway/index.js";
import { buildBatchCard } from "../batch-cards.js";
import { MAX_BATCH_ITEMS } from "../batches.js";
import { renderBatchText } from "./batch-layout.js";
import { cardMessage as discordMessage } from "./discord/embeds.js";
import { cardMessage as slackMessage } from "./slack/blocks.js";
import { renderWhatsAppCard } from "./whatsapp/card-text.js";

const view = (i: number, over: Partial<ApprovalView> = {}): ApprovalView => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
  agent: "demo",
  method: "POST",
  url: `https://api.example.test/v1/things/${i}?q=${"x".repeat(200)}`,
  host: "api.example.test",
  path: `/v1/things/${i}`,
  policy: "example",
  rule: "write",
  bodyPreview: JSON.stringify({ n: i, text: "y".repeat(1500) }, null, 2),
  reason: `reason ${i} ${"z".repeat(300)}`,
  createdAt: "2030-01-01T00:00:00Z",
  expiresAt: "2030-01-01T00:15:00Z",
  needed: 1,
  approvals: [],
  approvers: ["role:approver"],
  grantMs: 900_000,
  grantCovers: "POST /v1/things/*",
  state: "pending",
  bodyBytes: 1600,
  contentType: "application/json",
  contentEncoding: null,
  secrets: [{ name: "TOKEN", where: "Authorization header" }],
  ...over,
});

const batchOf = (n: number) =>
  buildBatchCard(
    "abcdefghijkl",
    Array.from({ length: n }, (_, i) => view(i + 1)),
    { webBase: "http://127.0.0.1:7420", now: () => Date.parse("2030-01-01T00:00:00Z") },
  );

describe("batch cards within each platform's limits (honest: every item listed, the rest pointed to)", () => {
  for (const n of [2, 12, MAX_BATCH_ITEMS]) {
    it(`${n} long items: Telegram text, WhatsApp text, Slack blocks, Discord embeds and rows`, () => {
      const card = batchOf(n);
      const tg = renderBatchText(card, 4096, { prefixBody: false });
      expect(tg.text.length).toBeLessThanOrEqual(4096);
      const wa = renderWhatsAppCard(card, 4096);
      expect(wa.length).toBeLessThanOrEqual(4096);
      for (let i = 1; i <= n; i++) {
        // Every item is drawn (its number and title), so "Approve all (n)" covers nothing unseen.
        expect(tg.text).toContain(`${i}. demo wants to POST`);
        expect(wa).toContain(`${i}. demo wants to POST`);
      }
      // Items not drawn in full point to their own full request.
      if (tg.full < n)
        expect(tg.text).toContain(`approvals/00000000-0000-4000-8000-${String(n).padStart(12, "0")}`);
      expect(wa).toMatch(/Reply "approve" or "deny" to this message.*it decides every request listed/);

      const slack = slackMessage(card);
      expect(slack.blocks.length).toBeLessThanOrEqual(50);
      const slackText = JSON.stringify(slack.blocks);
      for (let i = 1; i <= n; i++) expect(slackText).toContain(`${i}. demo wants to POST`);

      const discord = discordMessage(card) as {
        embeds: { title?: string; description?: string; fields?: { name: string; value: string }[] }[];
        components: { components: unknown[] }[];
      };
      expect(discord.embeds.length).toBeLessThanOrEqual(10);
      expect(discord.components.length).toBeLessThanOrEqual(5);
      const size = discord.embeds.reduce(
        (s, e) =>
          s +
          (e.title?.length ?? 0) +
          (e.description?.length ?? 0) +
          (e.fields ?? []).reduce((t, f) => t + f.name.length + f.value.length, 0),
        0,
      );
      expect(size).toBeLessThanOrEqual(6000);
      const discordText = JSON.stringify(discord.embeds);
      for (let i = 1; i <= n; i++) expect(discordText).toContain(`${i}\\\\. demo wants to POST`);
    });
  }
});
