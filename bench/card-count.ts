/**
 * Approval fatigue in numbers, for `npm run bench`: one agent sends a burst of held requests (63, as
 * in issue #10) and we count the cards that reach the owner's private chat on each platform, with
 * batching off (WARDEN_BATCH_WINDOW_MS=0) and on (the 5 s default). Real gateway, bot and platform
 * SDK against our fake platform server on 127.0.0.1 (approval-drivers.ts); the count is taken at the
 * channel seam (every `sendCard` is one message the person gets), edits are counted separately.
 * Afterwards every held request is denied so nothing goes upstream.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { DEFAULT_BATCH_WINDOW_MS } from "../bot/batches.js";
import type { Channel } from "../bot/channel.js";
import { type ControlPort, createBot, openBotStore, redeemToken } from "../bot/index.js";
import { createBotControl } from "../cli/bot-control.js";
import { startGateway } from "../gateway/index.js";
import {
  type ApprovalDriver,
  discordDriver,
  slackDriver,
  telegramDriver,
  whatsappDriver,
} from "./approval-drivers.js";

/** Card counts for a burst of `burst` held requests, window 0 vs the default, per platform. */
export async function benchCardCounts(burst = 63): Promise<string[]> {
  const lines = [`cards for a burst of ${burst} held requests of one agent (owner's private chat):`];
  for (const make of [telegramDriver, slackDriver, discordDriver, whatsappDriver]) {
    const counts: string[] = [];
    let name = "";
    for (const windowMs of [0, DEFAULT_BATCH_WINDOW_MS]) {
      const driver = await make();
      name = driver.name;
      try {
        const c = await countCards(driver, burst, windowMs);
        counts.push(`window ${windowMs} ms: ${c.cards} cards (${c.edits} edits)`);
      } catch (err) {
        counts.push(`window ${windowMs} ms: failed (${(err as Error).message})`);
      } finally {
        await driver.close();
      }
    }
    lines.push(`  ${name}: ${counts.join("; ")}`);
  }
  return lines;
}

async function countCards(
  driver: ApprovalDriver,
  burst: number,
  batchWindowMs: number,
): Promise<{ cards: number; edits: number }> {
  const home = await mkdtemp(join(tmpdir(), "wdn-bench-cards-"));
  await mkdir(join(home, "policies"));
  await writeFile(join(home, "policies", "_defaults.yaml"), `max_pending: ${burst * 2}\n`);
  await writeFile(
    join(home, "policies", "up.yaml"),
    "hosts: [up.test]\nrules:\n  - name: send\n    action: approve\n",
  );
  let cards = 0;
  let edits = 0;
  const real = driver.channel;
  // Counted at the seam: every sendCard is a message in someone's chat, every updateCard an edit.
  const channel: Channel = {
    ...real,
    start: (h) => real.start(h),
    stop: () => real.stop(),
    sendText: (to, text) => real.sendText(to, text),
    privateChat: (u) => real.privateChat(u),
    sendCard: async (to, card) => {
      if (to.chatId === driver.owner.chat.chatId) cards++;
      return real.sendCard(to, card);
    },
    updateCard: async (ref, card) => {
      if (ref.chatId === driver.owner.chat.chatId) edits++;
      return real.updateCard(ref, card);
    },
  };
  const store = openBotStore(join(home, "bot.db"));
  let port: ControlPort | undefined;
  const bot = createBot({
    channels: [channel],
    store,
    control: () => port as ControlPort,
    log: () => undefined,
    batchWindowMs,
  });
  const gw = await startGateway({
    home,
    policiesDir: join(home, "policies"),
    listen: { host: "127.0.0.1", port: 0 },
    control: { host: "127.0.0.1", port: 0 },
    // Nothing is ever sent: every held request is denied at the end (port 9 would refuse anyway).
    resolve: new Map([["up.test", { host: "127.0.0.1", port: 9 }]]),
    masterKey: randomBytes(32).toString("hex"),
    approver: bot.approver,
    roles: bot.roles,
    log: () => undefined,
  });
  port = createBotControl({
    gateway: gw,
    policiesDir: join(home, "policies"),
    manager: () => undefined,
    agentEnv: {},
    noRuntime: () => "no agent runtime in this benchmark",
    logs: async () => "",
  });
  const control = port;
  const token = ((await bot.claimUrl("http://x")) ?? "").split("/claim/")[1] ?? "";
  await redeemToken(store, token, driver.owner.identity, "Olive");
  await store.rememberPrivateChat(driver.owner.identity, driver.owner.chat);
  await bot.start();
  const agentToken = await gw.credentials.issueToken("bench");
  const [host, p] = gw.proxyAddress.split(":");
  const auth = `Basic ${Buffer.from(`bench:${agentToken}`).toString("base64")}`;
  const answered: Promise<void>[] = [];
  try {
    for (let i = 0; i < burst; i++)
      answered.push(
        new Promise<void>((resolve) => {
          const req = http.request(
            {
              host,
              port: Number(p),
              method: "POST",
              path: `http://up.test/send/${i}`,
              headers: { "proxy-authorization": auth },
            },
            (res) => res.resume().on("end", () => resolve()),
          );
          req.on("error", () => resolve());
          req.end("payload");
        }),
      );
    // Settled: every request held and no card sent or edited for longer than the window (WhatsApp
    // sends the requests that joined after its first card when the window closes).
    let last = -1;
    let quiet = 0;
    const end = Date.now() + 60_000;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = (await control.listApprovals("pending")).length * 1_000_000 + cards * 1000 + edits;
      quiet = now === last && now > 0 ? quiet + 1 : 0;
      if (quiet * 1000 > batchWindowMs) break;
      last = now;
    }
    const held = (await control.listApprovals("pending")).length;
    if (held !== burst) throw new Error(`${held} of ${burst} requests were held`);
    return { cards, edits };
  } finally {
    for (const a of await control.listApprovals("pending"))
      await control.decide(a.id, { decision: "deny", by: driver.owner.identity, scope: "once" });
    await Promise.race([Promise.all(answered), new Promise((r) => setTimeout(r, 10_000))]);
    await bot.stop();
    await gw.close();
    await store.close();
    await rm(home, { recursive: true, force: true });
  }
}

// `node dist/bench/card-count.js [N]`: just these figures.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  for (const line of await benchCardCounts(Number(process.argv[2] ?? 63) || 63)) console.log(line);
