/**
 * A card left pending when Warden stopped is brought to its true state after a restart: the
 * approval expired while Warden was down, so on the next start its Telegram card is edited to say
 * so and loses its buttons. Real gateway, bot and grammy (fake Bot API on 127.0.0.1).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runStart } from "../../cli/start.js";
import { REPO } from "../agents/agent-world.js";
import { startFakeTelegram } from "../fakes/telegram-api.js";

const OWNER = 5151;

describe("warden start across a restart", () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it("edits the card of an approval that expired while Warden was down", { timeout: 120_000 }, async () => {
    const tg = await startFakeTelegram();
    cleanup.push(() => tg.close());
    const home = await mkdtemp(join(tmpdir(), "wdn-restart-"));
    cleanup.push(() => rm(home, { recursive: true, force: true }));
    await mkdir(join(home, "policies"));
    await writeFile(
      join(home, "policies", "slow.yaml"),
      'hosts: ["127.0.0.2"]\nports: [9]\nallow_private: true\nrules:\n  - name: send\n    action: approve\n    timeout: 2s\n    approvers: ["role:owner"]\n',
    );
    const start = () =>
      runStart({
        home,
        repoRoot: REPO,
        listen: { host: "127.0.0.1", port: 0 },
        control: { host: "127.0.0.1", port: 0 },
        web: { host: "127.0.0.1", port: 0 },
        telegram: { token: tg.token, apiRoot: tg.apiRoot },
        masterKey: "b".repeat(64),
        agentEnv: {},
        log: (event, fields) => {
          if (process.env.WARDEN_TEST_DEBUG) console.error(event, JSON.stringify(fields));
        },
        say: () => undefined,
      });
    const first = await start();
    const claim = first.claimUrl?.split("/claim/")[1] ?? "";
    tg.injectText({ from: { id: OWNER, name: "Olive" }, text: `/start ${claim}` });
    await tg.waitForCall("sendMessage", (p) => String(p.text).startsWith("Welcome"));

    const token = await first.gateway.credentials.issueToken("a1");
    const [host, port] = first.gateway.proxyAddress.split(":");
    const held = new Promise<number>((resolve) => {
      const req = http.request(
        {
          host,
          port: Number(port),
          method: "POST",
          // An IP literal: no DNS, and nothing listens there (it is held, then expires).
          path: "http://127.0.0.2:9/send",
          headers: { "proxy-authorization": `Basic ${Buffer.from(`a1:${token}`).toString("base64")}` },
        },
        (res) => resolve(res.statusCode ?? 0),
      );
      req.on("error", () => resolve(-1));
      req.end("payload");
    });
    const card = await tg.waitForCall("sendMessage", (p) =>
      JSON.stringify(p.reply_markup ?? {}).includes("Approve"),
    );
    expect(String(card.chat_id)).toBe(String(OWNER));
    await first.close(); // the held request is answered 503; the approval stays pending in the store
    expect(await held).toBe(503);

    await new Promise((r) => setTimeout(r, 2500)); // the approval's 2 s pass while Warden is down
    const editsBefore = tg.callsTo("editMessageText").length;
    const second = await start();
    cleanup.push(() => second.close());
    const edit = await tg.waitForCall(
      "editMessageText",
      (p) => tg.callsTo("editMessageText").indexOf(p) >= editsBefore && /expired/i.test(String(p.text)),
      30_000,
    );
    expect(String(edit.chat_id)).toBe(String(OWNER));
    expect(JSON.stringify(edit.reply_markup ?? {})).not.toContain("Approve");
    expect(await second.gateway.approvals.list("expired")).toHaveLength(1);
  });
});
