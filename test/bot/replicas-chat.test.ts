/**
 * Two `warden start` replicas on one PostgreSQL with one Telegram bot: only the leader polls (the
 * fake counts concurrent long polls: a bot token admits one consumer), and when it goes away the
 * other replica starts polling within 15 s.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "../fakes/poll-until.js";
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
