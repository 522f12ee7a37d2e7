/**
 * Approval round trip without the human, for `npm run bench`: the real gateway and bot in-process,
 * each chat platform's real SDK against our fake platform server on 127.0.0.1 (approval-drivers.ts).
 * Measures (a) agent request → card arriving at the platform and (b) Approve tap at the platform →
 * upstream receiving the request.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
import { percentile } from "./load.js";

/** Runs `runs` approvals on every platform; returns report lines. */
export async function benchApprovals(runs = 30): Promise<string[]> {
  const lines = [
    `approval round trip (${runs} runs each, real gateway + bot + platform SDK, fake platform API):`,
  ];
  for (const make of [telegramDriver, slackDriver, discordDriver, whatsappDriver]) {
    const driver = await make();
    try {
      const { toCard, toUpstream } = await measureDriver(driver, runs);
      lines.push(
        `  ${driver.name}: request → card ${fmt(toCard)}; Approve tap → upstream ${fmt(toUpstream)}`,
      );
    } finally {
      await driver.close();
    }
  }
  return lines;
}

/** `p50 … ms, p99 … ms` of `raw`. */
export function fmt(raw: number[]): string {
  const xs = [...raw].sort((a, b) => a - b);
  return `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms`;
}

/**
 * `runs` held requests through a fresh gateway and bot with `driver`'s channel: for each, ms from
 * the agent's request to the card at the platform, and from the Approve tap to the upstream.
 */
export async function measureDriver(
  driver: ApprovalDriver,
  runs: number,
): Promise<{ toCard: number[]; toUpstream: number[] }> {
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
    channels: [driver.channel, ...(driver.thread ? [driver.thread.dmChannel] : [])],
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
  const token = ((await bot.claimUrl("http://x")) ?? "").split("/claim/")[1] ?? "";
  const claimed = await redeemToken(store, token, driver.owner.identity, "Olive");
  await store.rememberPrivateChat(driver.owner.identity, driver.owner.chat);
  if (driver.thread && claimed.ok) {
    await store.bind("bench", driver.thread.agentChat);
    await store.linkIdentity(driver.thread.tapper, claimed.person.id);
  }
  await bot.start();
  const agentToken = await gw.credentials.issueToken("bench");
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
      const tap = await driver.nextCard();
      toCard.push(performance.now() - t0);
      const t2 = performance.now();
      tap();
      // A tap that releases nothing must not stall the bench for the approval timeout: give up after
      // 30 s (that run reports no upstream time; the caller counts it).
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, 30_000)))]);
      clearTimeout(timer);
      toUpstream.push((arrived.get(path) ?? Number.NaN) - t2);
    }
  } finally {
    await bot.stop();
    await gw.close();
    await store.close();
    upstream.close();
    await rm(home, { recursive: true, force: true });
  }
  return { toCard, toUpstream };
}
