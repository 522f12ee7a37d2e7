/**
 * Two `warden start` replicas on one PostgreSQL with one Telegram bot: only the leader polls (the
 * fake counts concurrent long polls: a bot token admits one consumer), and when it goes away the
 * other replica starts polling within 15 s.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "../fakes/poll-until.js";
import { proxyRequest } from "../fakes/proxy-client.js";
import { type FakeTelegram, startFakeTelegram } from "../fakes/telegram-api.js";
import { postgresUnavailable, startPostgres, type TestPostgres } from "../support/postgres.js";
import { startTestWarden } from "./test-warden.js";

const skip = postgresUnavailable();

describe.skipIf(skip !== undefined)(
  `replicas and single-consumer chat${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let pg: TestPostgres;
    let tg: FakeTelegram;
    let a: Awaited<ReturnType<typeof startTestWarden>>;
    let b: Awaited<ReturnType<typeof startTestWarden>>;

    beforeAll(async () => {
      pg = await startPostgres();
      tg = await startFakeTelegram();
      const databaseUrl = await pg.schema("chat");
      const telegram = { token: tg.token, apiRoot: tg.apiRoot };
      a = await startTestWarden("rep-a", { telegram, databaseUrl, replicaId: "A" });
      b = await startTestWarden("rep-b", { telegram, databaseUrl, replicaId: "B" });
    }, 180_000);

    afterAll(async () => {
      await b?.close();
      await a?.close().catch(() => undefined);
      await pg?.stop();
    });

    it("a request held on B gets its card from the leader A; the Telegram tap at A releases it on B, once", async () => {
      const OWNER = 4242;
      tg.injectText({ from: { id: OWNER, name: "Olive" }, text: `/start ${a.claimToken}` });
      await tg.waitForCall("sendMessage", (p) => String(p.chat_id) === String(OWNER), 30_000);
      const token = await b.gateway.credentials.issueToken("twin");
      const env = await b.gateway.placeholderEnv("twin");
      const [host, port] = b.gateway.proxyAddress.split(":");
      const held = proxyRequest(
        { proxy: { host: host ?? "", port: Number(port) }, caPem: b.gateway.caPem },
        "http://demo.warden.local/send",
        {
          auth: { agent: "twin", token },
          method: "POST",
          body: JSON.stringify({ to: "alice@example.com", subject: "Twin", body: "hi" }),
          headers: { "content-type": "application/json", authorization: `Bearer ${env.DEMO_API_KEY}` },
        },
      );
      const card = await tg.waitForCall(
        "sendMessage",
        (p) =>
          String(p.chat_id) === String(OWNER) && JSON.stringify(p.reply_markup ?? {}).includes("Approve"),
        30_000,
      );
      const approve = (
        card.reply_markup as { inline_keyboard: { text: string; callback_data: string }[][] }
      ).inline_keyboard
        .flat()
        .find((x) => x.text === "Approve");
      const messageId = tg.messageIdWithButton(OWNER, approve?.callback_data ?? "-");
      tg.injectTap({
        from: { id: OWNER, name: "Olive" },
        chatId: OWNER,
        messageId,
        data: approve?.callback_data ?? "",
      });
      const res = await held;
      expect(res.status, res.text).toBe(200);
      expect(b.demo.sent.map((m) => m.subject)).toEqual(["Twin"]);
      expect(a.demo.sent).toEqual([]);
      // The card is redrawn as decided (by the leader, from the store's announcement).
      const edited = await tg.waitForCall("editMessageText", (p) => p.message_id === messageId, 30_000);
      expect(JSON.stringify(edited.reply_markup ?? {})).not.toContain("Approve");
    }, 90_000);

    it("only the leader polls Telegram; the other takes over within 15 s of the leader's end", async () => {
      expect([a.gateway.leadership.isLeader(), b.gateway.leadership.isLeader()]).toEqual([true, false]);
      await tg.waitForCall("getUpdates");
      await new Promise((r) => setTimeout(r, 3000));
      expect(tg.maxConcurrentPolls()).toBe(1);
      await a.close();
      const before = tg.callsTo("getUpdates").length;
      const t0 = Date.now();
      await pollUntil(
        "B to poll Telegram",
        () => (tg.callsTo("getUpdates").length > before ? true : undefined),
        15_000,
      );
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(b.gateway.leadership.isLeader()).toBe(true);
      expect(tg.maxConcurrentPolls()).toBe(1);
    }, 60_000);
  },
);
