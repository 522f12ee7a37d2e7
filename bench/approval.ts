/**
 * Approval round trip without the human, for `npm run bench`: the real gateway and bot in-process,
 * grammy against the fake Telegram Bot API on 127.0.0.1. Measures (a) agent request → card arriving
 * at Telegram and (b) Approve tap arriving at Telegram → upstream receiving the request.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTelegramChannel } from "../bot/channels/telegram.js";
import { type ControlPort, createBot, openBotStore, redeemToken } from "../bot/index.js";
import { createBotControl } from "../cli/bot-control.js";
import { startGateway } from "../gateway/index.js";
import { startFakeTelegram } from "../test/fakes/telegram-api.js";
import { percentile } from "./load.js";

const OWNER = 4242;

/** Runs `runs` approvals; returns report lines. */
export async function benchApprovals(runs = 30): Promise<string[]> {
  const tg = await startFakeTelegram();
  const home = await mkdtemp(join(tmpdir(), "wdn-bench-approval-"));
  const arrived = new Map<string, number>();
  const upstream = http.createServer((req, res) => {
    arrived.set(req.url ?? "", performance.now());
    req.resume();
    res.end("ok");
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
  await mkdir(join(home, "policies"));
  await writeFile(
    join(home, "policies", "up.yaml"),
    "hosts: [up.test]\nrules:\n  - name: send\n    action: approve\n",
  );
  const store = openBotStore(join(home, "bot.db"));
  const bot = createBot({
    channels: [createTelegramChannel({ token: tg.token, apiRoot: tg.apiRoot })],
    store,
    control: () => port,
    log: (event, fields) => {
      if (process.env.BENCH_DEBUG) console.error(event, JSON.stringify(fields));
    },
  });
  const gw = await startGateway({
    home,
    policiesDir: join(home, "policies"),
    listen: { host: "127.0.0.1", port: 0 },
    control: { host: "127.0.0.1", port: 0 },
    resolve: new Map([["up.test", { host: "127.0.0.1", port: (upstream.address() as AddressInfo).port }]]),
    masterKey: randomBytes(32).toString("hex"),
    approver: bot.approver,
    roles: bot.roles,
    log: () => undefined,
  });
  const port: ControlPort = createBotControl({
    gateway: gw,
    policiesDir: join(home, "policies"),
    manager: () => undefined,
    agentEnv: {},
    noRuntime: () => "no agent runtime in this benchmark",
    logs: async () => "",
  });
  const token = (bot.claimUrl("http://x") ?? "").split("/claim/")[1] ?? "";
  redeemToken(store, token, `telegram:${OWNER}`, "Olive");
  store.rememberPrivateChat(`telegram:${OWNER}`, { platform: "telegram", chatId: String(OWNER) });
  await bot.start();
  const agentToken = gw.credentials.issueToken("bench");
  const [host, p] = gw.proxyAddress.split(":");
  const toCard: number[] = [];
  const toUpstream: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const path = `/send/${i}`;
      const t0 = performance.now();
      const done = new Promise<void>((resolve, reject) => {
        const req = http.request(
          {
            host,
            port: Number(p),
            method: "POST",
            path: `http://up.test${path}`,
            headers: {
              "proxy-authorization": `Basic ${Buffer.from(`bench:${agentToken}`).toString("base64")}`,
            },
          },
          (res) => res.resume().on("end", () => resolve()),
        );
        req.on("error", reject);
        req.end("payload");
      });
      const before = tg.callsTo("sendMessage").length;
      const card = await tg.waitForCall("sendMessage", (c) => tg.callsTo("sendMessage").indexOf(c) >= before);
      toCard.push(performance.now() - t0);
      const keyboard = (card.reply_markup as { inline_keyboard: { text: string; callback_data: string }[][] })
        .inline_keyboard;
      const approve = keyboard.flat().find((b) => b.text === "Approve")?.callback_data ?? "";
      let messageId = -1;
      for (let id = 1; id < 10_000 && messageId < 0; id++) {
        const m = tg.message(OWNER, id) as { reply_markup?: unknown } | undefined;
        if (m && JSON.stringify(m.reply_markup ?? {}).includes(approve)) messageId = id;
      }
      const t2 = performance.now();
      tg.injectTap({ from: { id: OWNER, name: "Olive" }, chatId: OWNER, messageId, data: approve });
      await done;
      toUpstream.push((arrived.get(path) ?? Number.NaN) - t2);
    }
  } finally {
    await bot.stop();
    await gw.close();
    store.close();
    upstream.close();
    await tg.close();
    await rm(home, { recursive: true, force: true });
  }
  const fmt = (raw: number[]) => {
    const xs = [...raw].sort((a, b) => a - b);
    return `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms`;
  };
  return [
    `approval round trip (${runs} runs, real gateway + bot + grammy, fake Telegram API):`,
    `  agent request → card at Telegram: ${fmt(toCard)}`,
    `  Approve tap at Telegram → upstream receives: ${fmt(toUpstream)}`,
  ];
}
