/**
 * The web chat over the bot store's rows (web-chat-state.ts), as replicas use it: a session made on
 * one channel works on another channel over the same store, a sign-out on one ends it on both, the
 * rows never hold a cookie, history survives into a new channel, and the old JSON files are imported
 * once. Two store handles on one SQLite file stand in for two replicas on one PostgreSQL.
 */
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type BotStore, openBotStore } from "../../bot/bot-store.js";
import { createWebChannel, type WebChannel } from "../../bot/channels/web/index.js";
import { TTL_MS } from "../../bot/channels/web/sessions.js";
import { importWebChatFiles, storeWebChatState } from "../../bot/channels/web/web-chat-state.js";
import { pollUntil } from "../fakes/poll-until.js";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function http(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
) {
  return new Promise<Reply>((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers }, (res) => {
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
    req.end(body);
  });
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

async function home(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "wdn-webrep-"));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function store(file: string): BotStore {
  const s = openBotStore(file);
  cleanup.push(() => s.close());
  return s;
}

async function channel(rows: BotStore, tokens = new Map<string, string>()): Promise<WebChannel> {
  const ch = createWebChannel({
    host: "127.0.0.1",
    port: 0,
    state: storeWebChatState(rows),
    verifyToken: async (token) => {
      const userId = tokens.get(token);
      tokens.delete(token);
      return userId === undefined ? undefined : { userId, name: "Olive" };
    },
  });
  cleanup.push(() => ch.stop());
  await ch.start(async () => {});
  return ch;
}

/** The CSRF token on the chat page, or undefined when the page is the sign-in page. */
async function csrfOn(base: string, cookie: string): Promise<string | undefined> {
  const page = await http(base, "GET", "/", { cookie });
  return /name="warden-csrf" content="([^"]+)"/.exec(page.body)?.[1];
}

describe("web chat state in the bot store (replicas)", () => {
  it("a session made on one replica is accepted by another; a sign-out on one ends it on both", async () => {
    const db = join(await home(), "warden.db");
    const a = await channel(store(db), new Map([["claim-token-123", "u1"]]));
    const b = await channel(store(db));
    const res = await http(a.url, "GET", "/claim/claim-token-123");
    expect(res.status).toBe(303);
    const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
    const csrf = await csrfOn(b.url, cookie);
    expect(csrf).toBeDefined();
    expect(csrf).toBe(await csrfOn(a.url, cookie)); // the same session, CSRF token included
    expect((await http(b.url, "GET", "/api/state", { cookie })).status).toBe(200);

    // The rows hold the cookie's hash only: a leaked database cannot be replayed as a cookie.
    const rows = await store(db).stateList("web-session");
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(cookie.split("=")[1]!);

    const out = await http(
      a.url,
      "POST",
      "/api/signout",
      { cookie, "x-warden-csrf": csrf!, "content-type": "application/json", origin: a.url },
      "{}",
    );
    expect(out.status).toBeLessThan(400);
    await pollUntil("sign-out reaching the other replica", async () =>
      (await http(b.url, "GET", "/api/state", { cookie })).status === 401 ? true : undefined,
    );
    expect(await store(db).stateList("web-session")).toHaveLength(0);
  });

  it("a cookie nobody issued is refused on every replica (no row is created for it)", async () => {
    const db = join(await home(), "warden.db");
    const b = await channel(store(db));
    const cookie = `warden_session=${"A".repeat(43)}`;
    expect((await http(b.url, "GET", "/api/state", { cookie })).status).toBe(401);
    expect(await store(db).stateList("web-session")).toHaveLength(0);
  });

  it("keeps history in the store: a new channel shows it, a message deleted at once is never written", async () => {
    const db = join(await home(), "warden.db");
    const a = await channel(store(db));
    await a.sendText({ platform: "web", chatId: "agent:billing" }, "kept across replicas");
    const secret = await a.sendText({ platform: "web", chatId: "dm:u1" }, "hunter2-value");
    await a.deleteMessage?.(secret);
    await a.stop();
    const saved = JSON.stringify(await store(db).stateList("web-history"));
    expect(saved).toContain("kept across replicas");
    expect(saved).not.toContain("hunter2-value");

    const tokens = new Map([["claim-token-456", "u1"]]);
    const c = await channel(store(db), tokens);
    const cookie = String((await http(c.url, "GET", "/claim/claim-token-456")).headers["set-cookie"]).split(
      ";",
    )[0]!;
    const state = (await http(c.url, "GET", "/api/state", { cookie })).body;
    expect(state).toContain("kept across replicas");
  });

  it("imports the old JSON files once and renames them *.imported", async () => {
    const dir = await home();
    const rows = store(join(dir, "warden.db"));
    const key = "a".repeat(64);
    const now = Date.now();
    const sessionFile = join(dir, "web-sessions.json");
    const historyFile = join(dir, "web-history.json");
    await writeFile(
      sessionFile,
      JSON.stringify({
        sessions: [
          { key, userId: "u1", name: "O", csrf: "c".repeat(43), createdAt: now },
          {
            key: "b".repeat(64),
            userId: "u2",
            name: "Old",
            csrf: "d".repeat(43),
            createdAt: now - TTL_MS - 1,
          },
        ],
      }),
    );
    await writeFile(
      historyFile,
      JSON.stringify({
        "agent:demo": [{ id: "m1", chatId: "agent:demo", ts: now, from: null, text: "from the file" }],
        "../evil": [{ id: "m2", chatId: "x", ts: now, from: null, text: "bad chat id" }],
      }),
    );
    const state = storeWebChatState(rows);
    await importWebChatFiles(state, { sessionFile, historyFile, ttlMs: TTL_MS });
    expect((await state.sessions()).map((s) => s.key)).toEqual([key]); // the expired one is dropped
    const history = await state.history();
    expect([...history.keys()]).toEqual(["agent:demo"]);
    expect(history.get("agent:demo")?.[0]?.text).toBe("from the file");
    expect((await readdir(dir)).filter((f) => f.startsWith("web-")).sort()).toEqual([
      "web-history.json.imported",
      "web-sessions.json.imported",
    ]);
    await importWebChatFiles(state, { sessionFile, historyFile, ttlMs: TTL_MS }); // nothing left to import
    expect(await state.sessions()).toHaveLength(1);
  });
});
