/**
 * The operator console (`<web>/console`, issue #10) in headless Chromium against `warden start`'s
 * real wiring (runStart: gateway, bot, web chat; a recording upstream on 127.0.0.1). The owner claims
 * Warden, sees a held request in the console, opens its full request, approves it from the console
 * (the upstream then gets it), finds its audit row and the "chain verified" state, edits a policy
 * with an error (its line shown), fixes it, replays it and saves it, sets and deletes a secret
 * (whose value never comes back); a member invited from chat is refused. Hostile agent text in the
 * reason header stays text. Screenshots at phone and desktop widths go to test-artifacts/console/.
 * With CI set, a missing browser fails.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { runStart } from "../../cli/start.js";
import { REPO } from "../agents/agent-world.js";
import { browserUnavailable, launchChromium } from "../fakes/browser.js";

const ARTIFACTS = join(REPO, "test-artifacts", "console");
const noBrowser = browserUnavailable();
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const SECRET_VALUE = "sk_live_console_value_91d2";
const HOSTILE_REASON = '<img src=x onerror="window.pwned=1">paying';
const HOSTILE_PATH = "/x<img/src=x/onerror=window.pwned=3>";

function policyYaml(port: number, sendAction: string): string {
  return [
    "name: console",
    'hosts: ["127.0.0.1"]',
    `ports: [${port}]`,
    "allow_private: true",
    "rules:",
    "  - name: read",
    "    methods: [GET]",
    "    action: allow",
    "  - name: send",
    "    methods: [POST]",
    `    action: ${sendAction}`,
    ...(sendAction === "deny" ? [] : ['    approvers: ["role:owner"]']),
    "default: deny",
    "",
  ].join("\n");
}

async function shoot(page: Page, name: string): Promise<void> {
  for (const [label, size] of [
    ["phone", PHONE],
    ["desktop", DESKTOP],
  ] as const) {
    await page.setViewportSize(size);
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${label}.png`), fullPage: true });
  }
}

describe.skipIf(noBrowser)(`operator console${noBrowser ? ` (skipped: ${noBrowser})` : ""}`, () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it("claim, approve from the console, audit row and chain, policy edit with a line error, replay, save, secrets; a member is refused", {
    timeout: 240_000,
  }, async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    const received: { method: string; url: string }[] = [];
    const upstream = http.createServer((req, res) => {
      received.push({ method: req.method ?? "", url: req.url ?? "" });
      req.resume();
      req.on("end", () => res.end("ok"));
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    cleanup.push(() => new Promise((r) => upstream.close(r)));
    const upPort = (upstream.address() as AddressInfo).port;

    const home = await mkdtemp(join(tmpdir(), "wdn-console-"));
    cleanup.push(() => rm(home, { recursive: true, force: true }));
    await mkdir(join(home, "policies"));
    await writeFile(join(home, "policies", "console.yaml"), policyYaml(upPort, "approve"));
    const logs: string[] = [];
    const warden = await runStart({
      home,
      repoRoot: REPO,
      listen: { host: "127.0.0.1", port: 0 },
      control: { host: "127.0.0.1", port: 0 },
      web: { host: "127.0.0.1", port: 0 },
      masterKey: "c".repeat(64),
      agentEnv: {},
      log: (event, fields) => void logs.push(JSON.stringify({ event, ...fields })),
      say: () => undefined,
    });
    cleanup.push(() => warden.close());

    const token = await warden.gateway.credentials.issueToken("a1");
    const [proxyHost, proxyPort] = warden.gateway.proxyAddress.split(":");
    const viaProxy = (method: string, path: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve) => {
        const req = http.request(
          {
            host: proxyHost,
            port: Number(proxyPort),
            method,
            path: `http://127.0.0.1:${upPort}${path}`,
            headers: {
              "proxy-authorization": `Basic ${Buffer.from(`a1:${token}`).toString("base64")}`,
              ...headers,
            },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", () => resolve(-1));
        req.end(method === "POST" ? '{"to":"bob"}' : undefined);
      });
    expect(await viaProxy("GET", "/inbox")).toBe(200);
    // The agent chooses its paths: one that is markup (refused as a bad path), shown as text in the audit.
    expect(await viaProxy("GET", HOSTILE_PATH)).toBe(403);

    browser = await launchChromium();
    const owner = await browser.newPage({ viewport: DESKTOP });
    const dialogs: string[] = [];
    owner.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    // Not signed in: the console asks to sign in and shows nothing else.
    const signedOut = await owner.goto(`${warden.webUrl}/console`);
    expect(signedOut?.status()).toBe(401);
    expect(await owner.locator("h1").textContent()).toBe("Sign in to use the console");

    await owner.goto(warden.claimUrl ?? "");
    await owner.goto(`${warden.webUrl}/console`);
    expect(await owner.locator("h1").first().textContent()).toBe("Warden console");

    // A held request shows up, labelled as the agent's words where it speaks.
    const held = viaProxy("POST", "/send", { "x-warden-reason": HOSTILE_REASON });
    const pending = owner.locator("#pending .item.pending");
    await pending.waitFor({ timeout: 30_000 });
    expect(await pending.locator(".head").textContent()).toBe(`POST http://127.0.0.1:${upPort}/send`);
    expect(await pending.locator(".says").textContent()).toBe(HOSTILE_REASON);
    expect(await owner.locator("#pending img").count()).toBe(0);
    await shoot(owner, "approvals");

    // Its full request (the approval page), then back.
    await pending.locator("a.open").click();
    await owner.locator("main.full").waitFor();
    expect(await owner.locator(".line .url").textContent()).toBe(`http://127.0.0.1:${upPort}/send`);
    expect(await owner.locator("pre.body").textContent()).toContain('"to": "bob"');
    await owner.goBack();
    await owner.locator("#pending .item.pending").waitFor();

    await owner.locator("#pending button", { hasText: "Approve" }).click();
    await expect.poll(() => owner.locator("#msg").textContent()).toBe("Approved.");
    expect(await held).toBe(200);
    expect(received.map((r) => `${r.method} ${r.url}`)).toEqual(["GET /inbox", "POST /send"]);
    await expect.poll(() => owner.locator("#pending").textContent()).toBe("Nothing is waiting for approval.");

    // The audit row and the live chain state; search narrows by decision.
    await owner.locator(".tabs button", { hasText: "Audit" }).click();
    await expect.poll(() => owner.locator("#chain").textContent()).toMatch(/^Chain verified: \d+ entries$/);
    await expect
      .poll(() => owner.locator("#audit-rows td.mono").allTextContents())
      .toContain(`GET 127.0.0.1${HOSTILE_PATH}`);
    expect(await owner.locator("#audit-rows img").count()).toBe(0);
    await owner.locator("#q-decision").selectOption("approve");
    await owner.locator("#audit-search button").click();
    await expect
      .poll(() => owner.locator("#audit-rows tr").allTextContents())
      .toEqual([expect.stringMatching(/a1POST 127\.0\.0\.1\/sendapproveconsole\/send$/)]);
    await shoot(owner, "audit");

    // The policy editor: an error with its line, fixed, replayed, saved.
    await owner.locator(".tabs button", { hasText: "Policies" }).click();
    await owner.locator("#policy-list").selectOption("console");
    await expect.poll(() => owner.locator("#yaml").inputValue()).toContain("action: approve");
    await owner.locator("#yaml").fill(policyYaml(upPort, "approvee"));
    await expect
      .poll(() => owner.locator("#problems li.problem").first().textContent())
      .toMatch(/^line 11: /);
    await shoot(owner, "policy-error");
    await owner.locator("#yaml").fill(policyYaml(upPort, "deny"));
    await expect.poll(() => owner.locator("#problems").textContent()).toBe("Valid.");
    await owner.locator("#replay-run").click();
    await expect
      .poll(() => owner.locator("#replay .transition .head").allTextContents(), { timeout: 20_000 })
      .toEqual(["approve → deny: 1"]);
    await shoot(owner, "policy-replay");
    await owner.locator("#policy-save").click();
    await expect.poll(() => owner.locator("#msg").textContent()).toBe("Saved console.");
    expect(await readFile(join(home, "policies", "console.yaml"), "utf8")).toBe(policyYaml(upPort, "deny"));
    expect(await viaProxy("POST", "/send")).toBe(403);

    // Secrets: names only; the value goes in once and is never shown or logged.
    await owner.locator(".tabs button", { hasText: "Secrets" }).click();
    await owner.locator("#secret-name").fill("CONSOLE_TOKEN");
    await owner.locator("#secret-value").fill(SECRET_VALUE);
    await owner.locator("#secret-form button").click();
    await expect.poll(() => owner.locator("#msg").textContent()).toBe("Stored secret CONSOLE_TOKEN.");
    await expect
      .poll(() => owner.locator("#secrets .secret .mono").allTextContents())
      .toContain("CONSOLE_TOKEN");
    expect(await warden.gateway.credentials.listSecrets()).toContain("CONSOLE_TOKEN");
    expect(await owner.locator("#secret-value").inputValue()).toBe("");
    expect(await owner.content()).not.toContain(SECRET_VALUE);
    await shoot(owner, "secrets");
    const del = owner.locator("#secrets .secret", { hasText: "CONSOLE_TOKEN" }).locator("button");
    await del.click();
    expect(await warden.gateway.credentials.listSecrets()).toContain("CONSOLE_TOKEN");
    await del.click();
    await expect.poll(() => owner.locator("#msg").textContent()).toBe("Deleted CONSOLE_TOKEN.");

    // Agents with their state.
    await owner.locator(".tabs button", { hasText: "Agents" }).click();
    await expect.poll(() => owner.locator("#agents .head").allTextContents()).toContain("a1");
    await shoot(owner, "agents");

    // A member (invited from the chat) cannot open the console or call its API.
    await owner.goto(`${warden.webUrl}/`);
    await owner.locator("#text").fill("/invite member");
    await owner.locator("#composer button[type=submit]").click();
    let invite = "";
    await expect
      .poll(async () => {
        const texts = await owner.locator("#messages li").allTextContents();
        if (process.env.WARDEN_TEST_DEBUG) console.error(texts);
        // The invitation's token works as a web sign-in link too (`/invite/TOKEN`).
        const token = /\/start (\S+)/.exec(texts.join("\n"))?.[1];
        invite = token ? `/invite/${token}` : "";
        return invite;
      })
      .not.toBe("");
    const memberCtx = await browser.newContext({ viewport: PHONE });
    const member = await memberCtx.newPage();
    await member.goto(`${warden.webUrl}${invite}`);
    const refused = await member.goto(`${warden.webUrl}/console`);
    expect(refused?.status()).toBe(403);
    expect(await member.locator("h1").textContent()).toBe("Not for you");
    const api = await member.evaluate(async () => (await fetch("/console/api/secrets")).status);
    expect(api).toBe(403);
    await member.screenshot({ path: join(ARTIFACTS, "member-refused-phone.png") });

    expect(dialogs).toEqual([]);
    expect(await owner.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined();
    expect(logs.join("\n")).not.toContain(SECRET_VALUE);
  });
});
