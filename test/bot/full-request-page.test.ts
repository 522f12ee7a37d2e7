/**
 * The full-request page, `<web>/approvals/<id>` (DESIGN §3.1 honest cards), over real HTTP on
 * 127.0.0.1 against the real web channel, bot and approval engine (bot-world): who may see it (only
 * people who may decide the approval), what it shows (method, URL, every header, the whole body, all
 * of it escaped), its headers, and that its buttons decide through the same path as a chat tap.
 * One case drives it in headless Chromium when /usr/bin/chromium is installed.
 */
import { existsSync } from "node:fs";
import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { HeldRequest } from "../../bot/control-port.js";
import { createWebChannel, type WebChannel } from "../../bot/channels/web/index.js";
import { CHROMIUM, launchChromium } from "../fakes/browser.js";
import { type BotWorld, createBotWorld } from "./bot-world.js";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function http(
  base: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

// Web user ids by sign-in token; each becomes a person in the bot store with a role.
const PEOPLE = {
  owner: { userId: "own1", role: "owner" },
  approver: { userId: "appr1", role: "approver" },
  member: { userId: "mem1", role: "member" },
  listed: { userId: "list1", role: "member" },
} as const;
type Who = keyof typeof PEOPLE;

const XSS_HEADER = '<script>window.pwned=1</script>"><img src=x onerror="window.pwned=2">';
const XSS_BODY = JSON.stringify({ title: "</pre><script>window.pwned=3</script>", note: "a\u202Eb", n: 1 });

async function setUp() {
  let world: BotWorld | undefined;
  const w = () => world as BotWorld;
  const web: WebChannel = createWebChannel({
    host: "127.0.0.1",
    port: 0,
    verifyToken: async (token) => {
      const p = PEOPLE[token.replace(/^tok-/, "") as Who];
      return p ? { userId: p.userId, name: token } : undefined;
    },
    approvals: {
      load: (userId, id) => w().bot.approver.fullRequest(`web:${userId}`, id),
      decide: (userId, id, action) => w().bot.approver.decideFromPage(`web:${userId}`, id, action),
    },
  });
  world = createBotWorld({ channels: [web] });
  for (const [name, p] of Object.entries(PEOPLE))
    await world.store.createPerson(`web:${p.userId}`, name, p.role);
  const held = new Map<string, HeldRequest>();
  world.control.heldRequest = async (id) => held.get(id);
  await web.listen();
  const sessions = new Map<Who, { cookie: string; csrf: string }>();
  async function as(who: Who): Promise<{ cookie: string; csrf: string }> {
    const known = sessions.get(who);
    if (known) return known;
    const res = await http(web.url, "GET", `/claim/tok-${who}`);
    expect(res.status).toBe(303);
    const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
    const page = await http(web.url, "GET", "/", { headers: { cookie } });
    const csrf = /name="warden-csrf" content="([^"]+)"/.exec(page.body)![1]!;
    sessions.set(who, { cookie, csrf });
    return { cookie, csrf };
  }
  /** Holds a request needing one of `approvers`, with the full request the gateway would show. */
  async function hold(approvers: string[], full: Partial<HeldRequest> = {}) {
    const { view } = await w().hold({ approvers });
    held.set(view.id, {
      id: view.id,
      method: "POST",
      url: "https://api.example.test/v1/things?q=%3Cb%3E",
      headers: [
        ["content-type", "application/json"],
        ["authorization", "Bearer [secret GITHUB_TOKEN]"],
        ["x-agent-note", XSS_HEADER],
      ],
      body: XSS_BODY,
      bodyEncoding: "utf8",
      bodyBytes: Buffer.byteLength(XSS_BODY),
      ...full,
    });
    return view;
  }
  const page = async (who: Who | undefined, id: string) =>
    http(web.url, "GET", `/approvals/${id}`, { headers: who ? { cookie: (await as(who)).cookie } : {} });
  async function decide(who: Who, id: string, action: string, headers: Record<string, string> = {}) {
    const s = await as(who);
    return http(web.url, "POST", `/approvals/${id}/decision`, {
      headers: { cookie: s.cookie, "x-warden-csrf": s.csrf, "content-type": "application/json", ...headers },
      body: JSON.stringify({ action }),
    });
  }
  return { web, world: w(), as, hold, page, decide };
}

const opened: WebChannel[] = [];
afterEach(async () => {
  for (const w of opened.splice(0)) await w.stop();
});
async function world() {
  const t = await setUp();
  opened.push(t.web);
  return t;
}

describe("the full-request page <web>/approvals/<id>", () => {
  it("shows nobody signed in anything but a sign-in prompt; a decision needs a session", async () => {
    const t = await world();
    const view = await t.hold(["role:approver"]);
    const res = await t.page(undefined, view.id);
    expect(res.status).toBe(401);
    expect(res.body).toMatch(/Sign in to see this request/);
    for (const leak of ["api.example.test", "GITHUB_TOKEN", "x-agent-note", "pwned", "demo"])
      expect(res.body).not.toContain(leak);
    const post = await http(t.web.url, "POST", `/approvals/${view.id}/decision`, {
      headers: { "content-type": "application/json" },
      body: '{"action":"approve"}',
    });
    expect(post.status).toBe(401);
    expect((await t.world.approvals.get(view.id))?.state).toBe("pending");
  });

  it("refuses (403, no data) someone signed in who may not decide it; unknown ids are 404", async () => {
    const t = await world();
    const view = await t.hold(["role:approver"]);
    const res = await t.page("member", view.id);
    expect(res.status).toBe(403);
    for (const leak of ["api.example.test", "GITHUB_TOKEN", "x-agent-note", "pwned"])
      expect(res.body).not.toContain(leak);
    expect(t.world.logs.some((l) => l.event === "bot_full_request_refused")).toBe(true);
    expect((await t.page("owner", "00000000-0000-4000-8000-00000000dead")).status).toBe(404);
    expect((await t.page("owner", "..%2f..%2fetc")).status).toBe(404);
    // A listed id decides alone: the owner is not on that list.
    const listed = await t.hold(["web:list1"]);
    expect((await t.page("listed", listed.id)).status).toBe(200);
    expect((await t.page("owner", listed.id)).status).toBe(403);
  });

  it("shows an approver the method, URL, every header and the whole body, escaped, under strict headers", async () => {
    const t = await world();
    const view = await t.hold(["role:approver"]);
    for (const who of ["approver", "owner"] as const) {
      const res = await t.page(who, view.id);
      expect(res.status).toBe(200);
      expect(res.headers["cache-control"]).toBe("no-store");
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(String(res.headers["content-security-policy"])).toMatch(/frame-ancestors 'none'/);
      expect(String(res.headers["content-security-policy"])).toMatch(/default-src 'none'/);
      expect(res.body).toContain("https://api.example.test/v1/things?q=%3Cb%3E");
      expect(res.body).toContain("Bearer [secret GITHUB_TOKEN]");
      expect(res.body).toContain(
        "&lt;script&gt;window.pwned=1&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=&quot;window.pwned=2&quot;&gt;",
      );
      // The body pretty-printed, its markup inert, its bidi override visible.
      expect(res.body).toContain("  &quot;title&quot;: &quot;&lt;/pre&gt;&lt;script&gt;window.pwned=3");
      expect(res.body).toContain('a<span class="ctl">[U+202E]</span>b');
      expect(res.body).not.toMatch(/<script>window|<img src=x|onerror="/);
      // Our only script is the nonce-bound one.
      const scripts = res.body.match(/<script[^>]*>/g) ?? [];
      expect(scripts).toHaveLength(1);
      expect(scripts[0]).toMatch(/^<script nonce="[A-Za-z0-9_-]+">$/);
      expect(res.body).toMatch(/data-action="approve"/);
      expect(res.body).toMatch(/data-action="deny"/);
    }
  });

  it("shows a binary body whole as base64, and as hex", async () => {
    const t = await world();
    const bytes = Buffer.from([0xff, 0x00, 0x3c, 0x73, 0x63, 0x72, 0x69, 0x70, 0x74, 0x3e, 0x80]);
    const view = await t.hold(["role:approver"], {
      body: bytes.toString("base64"),
      bodyEncoding: "base64",
      bodyBytes: bytes.length,
    });
    const res = await t.page("approver", view.id);
    expect(res.body).toContain(bytes.toString("base64"));
    expect(res.body).toContain("00000000  ff 00 3c 73 63 72 69 70 74 3e 80");
    expect(res.body).toContain("|..&lt;script&gt;.|");
  });

  it("decides through the same path as a tap: CSRF and origin checked, refusals audited, cards updated", async () => {
    const t = await world();
    const view = await t.hold(["role:approver"]);
    expect((await t.decide("approver", view.id, "approve", { "x-warden-csrf": "nope" })).status).toBe(403);
    expect((await t.decide("approver", view.id, "approve", { origin: "http://evil.test" })).status).toBe(403);
    expect((await t.decide("approver", view.id, "launch")).status).toBe(400);
    expect((await t.world.approvals.get(view.id))?.state).toBe("pending");
    // Not an approver: the gateway refuses the vote, exactly as for a tap.
    const refused = await t.decide("member", view.id, "approve");
    expect(JSON.parse(refused.body)).toEqual({ message: "You are not an approver for this request" });
    expect((await t.world.approvals.get(view.id))?.state).toBe("pending");
    const ok = await t.decide("approver", view.id, "approve");
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ message: "Approved." });
    expect((await t.world.approvals.get(view.id))?.approvals).toEqual(["web:appr1"]);
    expect(["approved", "used"]).toContain((await t.world.approvals.get(view.id))?.state);
    expect(JSON.parse((await t.decide("owner", view.id, "deny")).body).message).toBe("Already decided");
    // Decided: the page still shows the card's facts, no longer the request or any button.
    const after = await t.page("approver", view.id);
    expect(after.status).toBe(200);
    expect(after.body).toContain("Approved by");
    expect(after.body).not.toContain("data-action=");
    expect(after.body).toContain("no longer held");
  });

  it.skipIf(!existsSync(CHROMIUM) && !process.env.CI)(
    "in headless Chromium: the XSS body and header stay text, Approve decides",
    { timeout: 60_000 },
    async () => {
      const t = await world();
      const view = await t.hold(["role:approver"]);
      const browser = await launchChromium();
      try {
        const ctx = await browser.newContext();
        const tab = await ctx.newPage();
        await tab.goto(`${t.web.url}/claim/tok-approver`);
        await tab.goto(`${t.web.url}/approvals/${view.id}`);
        await tab.getByText("Bearer [secret GITHUB_TOKEN]").waitFor();
        expect(await tab.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
        expect(await tab.locator("table.headers").textContent()).toContain(XSS_HEADER);
        expect(await tab.locator("pre.body").textContent()).toContain(
          "</pre><script>window.pwned=3</script>",
        );
        await tab.locator('button[data-action="approve"]').click();
        await tab.getByText("Approved.").waitFor();
        expect(["approved", "used"]).toContain((await t.world.approvals.get(view.id))?.state);
        expect(await tab.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
      } finally {
        await browser.close();
      }
    },
  );
});
