/**
 * `warden doctor` run as the real compiled CLI against temporary homes: each failing check names
 * its item and what to do and makes the exit code exactly 1; an all-good home with the real Docker
 * engine exits 0. Platform tokens are checked against our fakes (and hostile servers that echo the
 * token back): no token ever appears in the output.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openBotStore } from "../../bot/bot-store.js";
import { storeAuthState } from "../../bot/channels/whatsapp/store-auth.js";
import { Vault } from "../../gateway/index.js";
import { type FakeDiscord, startFakeDiscord } from "../fakes/discord-api.js";
import { WARDEN_BIN } from "../fakes/gateway-process.js";
import { type FakeSlack, startFakeSlack } from "../fakes/slack-api.js";
import { type FakeTelegram, startFakeTelegram } from "../fakes/telegram-api.js";

const TG_TOKEN = "123456:TEST-token_abcdefghijklmnop";
const WRONG_TG = "654321:WRONG-token_zyxwvutsrqponmlk";
const WRONG_SLACK = "xoxb-9999-8888-WRONGbotTOKEN";
const WRONG_DISCORD = "OTAw.wrong-discord.WRONG-token_zyxwvuts";
const ALL_TOKENS = [TG_TOKEN, WRONG_TG, WRONG_SLACK, WRONG_DISCORD];

// Docker is part of the all-good run: on CI a missing engine fails the test instead of skipping it.
const dockerUp = spawnSync("docker", ["version", "--format", "{{.Server.Version}}"]).status === 0;

let root: string;
let home: string;
let tg: FakeTelegram;
let slack: FakeSlack;
let discord: FakeDiscord;
const closers: (() => Promise<void>)[] = [];

interface Run {
  readonly code: number | null;
  readonly out: string;
  /** The items of the FAIL lines, in order. */
  readonly fails: string[];
}

/** Runs `warden doctor` with a clean environment: only what a test passes switches a platform on. */
function doctor(env: Record<string, string> = {}, args: string[] = []): Promise<Run> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (
      v !== undefined &&
      !/^(WARDEN_|TELEGRAM_|SLACK_|DISCORD_|WHATSAPP|GITHUB_|LINEAR_|TEAMS_|GOOGLE_CHAT_)/.test(k)
    )
      base[k] = v;
  // Every port the check looks at is "any free port" unless a test says otherwise.
  const ports = ["--web", "127.0.0.1:0", "--control", "127.0.0.1:0", "--listen", "127.0.0.1:0"];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WARDEN_BIN, "doctor", ...ports, ...args], {
      env: { ...base, WARDEN_HOME: home, WARDEN_WEBHOOKS: "127.0.0.1:0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => {
      const fails = [...out.matchAll(/^FAIL {2}([^:]+):/gm)].map((m) => m[1] as string);
      resolve({ code, out, fails });
    });
  });
}

/** The failures a run must show: the test's own plus "docker" when this machine has no engine. */
const expected = (...items: string[]): string[] => [...(dockerUp ? [] : ["docker"]), ...items].sort();

function expectNoToken(out: string): void {
  for (const t of ALL_TOKENS) expect(out).not.toContain(t);
  expect(out).not.toContain("FAKEbotTOKEN");
  expect(out).not.toContain("FAKEappTOKEN");
}

/** A healthy home: 0700, private keys, one valid policy. */
async function goodHome(): Promise<string> {
  const dir = await mkdtemp(join(root, "home-"));
  await chmod(dir, 0o700);
  await mkdir(join(dir, "ca"), { mode: 0o700 });
  await mkdir(join(dir, "policies"), { mode: 0o700 });
  await writeFile(join(dir, "master.key"), `${"ab".repeat(32)}\n`, { mode: 0o600 });
  await writeFile(join(dir, "ca", "ca-key.pem"), "not a real key\n", { mode: 0o600 });
  await writeFile(join(dir, "control.token"), "not a real token\n", { mode: 0o600 });
  await writeFile(
    join(dir, "policies", "other.yaml"),
    JSON.stringify({ hosts: ["other.test"], rules: [], default: "allow" }),
  );
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "warden-doctor-"));
  tg = await startFakeTelegram(TG_TOKEN);
  slack = await startFakeSlack();
  discord = await startFakeDiscord();
  closers.push(
    () => tg.close(),
    () => slack.close(),
    () => discord.close(),
  );
});

afterAll(async () => {
  for (const close of closers) await close();
  await rm(root, { recursive: true, force: true });
});

beforeEach(async () => {
  home = await goodHome();
});

// Each run starts the whole CLI; on a loaded 2-core machine that alone can take seconds.
const SLOW = { timeout: 120_000 };

describe("warden doctor", SLOW, () => {
  it("all good with the real Docker engine and every platform's token accepted: exit 0", async () => {
    if (process.env.CI) expect(dockerUp, "Docker must run on CI").toBe(true);
    if (!dockerUp) return;
    const r = await doctor({
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_APP_TOKEN: slack.appToken,
      SLACK_API_URL: slack.apiUrl,
      DISCORD_BOT_TOKEN: discord.token,
      DISCORD_API_URL: discord.apiUrl,
    });
    expect(r.fails, r.out).toEqual([]);
    expect(r.code, r.out).toBe(0);
    for (const item of [
      "node",
      "docker",
      "home",
      "master key",
      "CA key",
      "policies",
      "telegram",
      "slack",
      "discord",
    ])
      expect(r.out).toMatch(new RegExp(`^ok {4}${item}:`, "m"));
    expect(r.out).toMatch(/all checks passed/);
    expect(tg.callsTo("getMe")).not.toHaveLength(0);
    expectNoToken(r.out);
    expect(r.out).not.toContain(discord.token);
  });

  it("no Docker engine (DOCKER_HOST at a dead unix socket): names the socket, says what to do, exit 1", async () => {
    const dead = join(root, "dead.sock");
    const r = await doctor({ DOCKER_HOST: `unix://${dead}` });
    expect(r.fails, r.out).toEqual(["docker"]);
    expect(r.out).toContain(`FAIL  docker: no Docker engine answers at ${dead}`);
    expect(r.out).toMatch(/→ install and start Docker/);
    expect(r.code).toBe(1);
  });

  it("a socket file left by a dead engine (nobody listening): ECONNREFUSED, exit 1", async () => {
    const dead = join(root, "killed.sock");
    // A process that listens and dies by SIGKILL leaves its socket file behind, like a crashed dockerd.
    spawnSync(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(dead)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    const r = await doctor({ DOCKER_HOST: `unix://${dead}` });
    expect(r.fails, r.out).toEqual(["docker"]);
    expect(r.out).toContain(`FAIL  docker: no Docker engine answers at ${dead} (ECONNREFUSED)`);
    expect(r.code).toBe(1);
  });

  it("an engine that accepts and never answers: doctor gives up (bounded), exit 1", async () => {
    const path = join(root, "silent.sock");
    const held = new Set<Socket>();
    const silent: TcpServer = createTcpServer((socket) => void held.add(socket));
    await new Promise<void>((resolve) => silent.listen(path, resolve));
    closers.push(() => {
      for (const socket of held) socket.destroy();
      return new Promise((resolve) => silent.close(() => resolve()));
    });
    const r = await doctor({ DOCKER_HOST: `unix://${path}` });
    expect(r.fails, r.out).toEqual(["docker"]);
    expect(r.out).toContain(`FAIL  docker: no Docker engine answers at ${path}`);
    expect(r.code).toBe(1);
  });

  it("a directory named like a policy file: named, exit 1 (no crash)", async () => {
    await mkdir(join(home, "policies", "dir.yaml"));
    const r = await doctor();
    expect(r.fails.sort(), r.out).toEqual(expected("policies"));
    expect(r.out).toContain(`cannot read ${join(home, "policies", "dir.yaml")} (not a regular file)`);
    expect(r.out).not.toMatch(/at .*\.js:\d+/);
    expect(r.code).toBe(1);
  });

  it("a policy with an unknown key: the file and line are named, exit 1", async () => {
    await writeFile(join(home, "policies", "bad.yaml"), "hosts: [a.test]\ndefault: allow\nbogus_key: 1\n");
    const r = await doctor();
    expect(r.fails.sort(), r.out).toEqual(expected("policies"));
    expect(r.out).toContain(`${join(home, "policies", "bad.yaml")}:3:`);
    expect(r.out).toMatch(/bogus_key/);
    expect(r.code).toBe(1);
  });

  it("policy YAML that does not parse: named with its line, exit 1", async () => {
    await writeFile(join(home, "policies", "broken.yaml"), "hosts: [a.test]\n  default: : allow\n");
    const r = await doctor();
    expect(r.fails.sort(), r.out).toEqual(expected("policies"));
    expect(r.out).toMatch(new RegExp(`${join(home, "policies", "broken.yaml")}:\\d+:`));
    expect(r.code).toBe(1);
  });

  it("master.key 0644: the key file is named with chmod 600, exit 1", async () => {
    const key = join(home, "master.key");
    await chmod(key, 0o644);
    const r = await doctor();
    expect(r.fails.sort(), r.out).toEqual(expected("master key"));
    expect(r.out).toContain(`FAIL  master key: ${key} is readable by other users (mode 0644)`);
    expect(r.out).toContain(`→ chmod 600 ${key}`);
    expect(r.out).not.toContain("ab".repeat(32));
    expect(r.code).toBe(1);
  });

  it("CA key 0640 and control token 0604: both named, exit 1", async () => {
    await chmod(join(home, "ca", "ca-key.pem"), 0o640);
    await chmod(join(home, "control.token"), 0o604);
    const r = await doctor();
    expect(r.fails.sort(), r.out).toEqual(expected("CA key", "control token"));
    expect(r.out).toContain(`chmod 600 ${join(home, "ca", "ca-key.pem")}`);
    expect(r.out).not.toContain("not a real");
    expect(r.code).toBe(1);
  });

  it("a master.key that is a symlink is refused, exit 1", async () => {
    const key = join(home, "master.key");
    await rm(key);
    await writeFile(join(root, "elsewhere.key"), "x", { mode: 0o600 });
    await symlink(join(root, "elsewhere.key"), key);
    const r = await doctor();
    expect(r.fails.sort(), r.out).toEqual(expected("master key"));
    expect(r.out).toContain(`${key} is not a regular file`);
  });

  it("a world-writable home fails; WARDEN_MASTER_KEY makes a missing master.key fine", async () => {
    await chmod(home, 0o777);
    await rm(join(home, "master.key"));
    const r = await doctor({ WARDEN_MASTER_KEY: "cd".repeat(32) });
    expect(r.fails.sort(), r.out).toEqual(expected("home"));
    expect(r.out).toContain(`→ chmod 700 ${home}`);
    expect(r.out).toMatch(/^ok {4}master key: from WARDEN_MASTER_KEY/m);
    expect(r.out).not.toContain("cd".repeat(32));
    expect(r.code).toBe(1);
  });

  it("--home wins over WARDEN_HOME", async () => {
    const other = await goodHome();
    await chmod(join(other, "master.key"), 0o644);
    const r = await doctor({}, ["--home", other]);
    expect(r.out).toContain(`FAIL  master key: ${join(other, "master.key")}`);
  });

  it("a port already in use: the port and its flag are named, exit 1", async () => {
    const busy: TcpServer = createTcpServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise((resolve) => busy.close(() => resolve())));
    const port = (busy.address() as AddressInfo).port;
    const r = await doctor({}, ["--web", `127.0.0.1:${port}`]);
    expect(r.fails.sort(), r.out).toEqual(expected("port web"));
    expect(r.out).toContain(`FAIL  port web: 127.0.0.1:${port} is already in use`);
    expect(r.out).toMatch(/another with --web/);
    expect(r.code).toBe(1);
  });

  it("the webhook port in use: a warning without webhook platforms, a failure with one", async () => {
    const busy: TcpServer = createTcpServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise((resolve) => busy.close(() => resolve())));
    const at = `127.0.0.1:${(busy.address() as AddressInfo).port}`;
    const idle = await doctor({ WARDEN_WEBHOOKS: at });
    expect(idle.out).toContain(`warn  port webhooks: ${at} is already in use`);
    expect(idle.fails.sort(), idle.out).toEqual(expected());
    const needed = await doctor({
      WARDEN_WEBHOOKS: at,
      LINEAR_API_KEY: "lin_api_not_printed_0123456789",
      LINEAR_WEBHOOK_SECRET: "lin_wh_not_printed_0123456789",
    });
    expect(needed.out).toContain(`FAIL  port webhooks: ${at} is already in use`);
    expect(needed.out).toMatch(/another with WARDEN_WEBHOOKS/);
    expect(needed.out).not.toContain("not_printed");
    expect(needed.code).toBe(1);
  });

  it("Telegram token refused by the fake: TELEGRAM_BOT_TOKEN named, token never printed, exit 1", async () => {
    const r = await doctor({ TELEGRAM_BOT_TOKEN: WRONG_TG, TELEGRAM_API_ROOT: tg.apiRoot });
    expect(r.fails.sort(), r.out).toEqual(expected("telegram"));
    expect(r.out).toContain("FAIL  telegram: the token in TELEGRAM_BOT_TOKEN was refused: Unauthorized");
    expectNoToken(r.out);
    expect(r.code).toBe(1);
  });

  it("Slack bot token refused (invalid_auth): SLACK_BOT_TOKEN named, exit 1", async () => {
    const r = await doctor({
      SLACK_BOT_TOKEN: WRONG_SLACK,
      SLACK_APP_TOKEN: slack.appToken,
      SLACK_API_URL: slack.apiUrl,
    });
    expect(r.fails.sort(), r.out).toEqual(expected("slack"));
    expect(r.out).toContain("FAIL  slack: the token in SLACK_BOT_TOKEN was refused: invalid_auth");
    expect(r.out).toMatch(/^ok {4}slack app: token accepted/m);
    expectNoToken(r.out);
    expect(r.code).toBe(1);
  });

  it("Slack with neither an app token nor a signing secret: exit 1", async () => {
    const r = await doctor({ SLACK_BOT_TOKEN: slack.botToken, SLACK_API_URL: slack.apiUrl });
    expect(r.fails.sort(), r.out).toEqual(expected("slack app"));
    expect(r.out).toMatch(/SLACK_APP_TOKEN/);
    expectNoToken(r.out);
  });

  it("Discord token refused (401): DISCORD_BOT_TOKEN named, exit 1", async () => {
    const r = await doctor({ DISCORD_BOT_TOKEN: WRONG_DISCORD, DISCORD_API_URL: discord.apiUrl });
    expect(r.fails.sort(), r.out).toEqual(expected("discord"));
    expect(r.out).toContain("FAIL  discord: the token in DISCORD_BOT_TOKEN was refused: 401: Unauthorized");
    expectNoToken(r.out);
    expect(r.code).toBe(1);
  });

  it("WhatsApp unpaired warns with what to do; paired in the store or a legacy creds.json passes", async () => {
    const unpaired = await doctor({ WHATSAPP: "1" });
    expect(unpaired.out).toMatch(/^warn {2}whatsapp: not paired yet/m);
    expect(unpaired.fails.sort()).toEqual(expected());
    // Linked since the move into the store: the sealed creds row in warden.db, opened with
    // WARDEN_MASTER_KEY as start would (it wins over master.key).
    const key = "cd".repeat(32);
    const vault = Vault.fromKey(Buffer.from(key, "hex"));
    const rows = openBotStore(join(home, "warden.db"));
    const auth = await storeAuthState({
      rows,
      sealer: {
        seal: (b) => vault.sealBytes(b, "whatsapp-auth"),
        open: (b) => vault.openBytes(b, "whatsapp-auth"),
      },
    });
    auth.state.creds.me = { id: "491700000000:2@s.whatsapp.net" };
    await auth.saveCreds();
    await rows.close();
    const stored = await doctor({ WHATSAPP: "1", WARDEN_MASTER_KEY: key });
    expect(stored.out).toMatch(/^ok {4}whatsapp: paired \(linked device in WARDEN_HOME\/warden.db\)/m);
    expect(stored.fails.sort(), stored.out).toEqual(expected());
    for (const secret of [
      "491700000000",
      key,
      Buffer.from(auth.state.creds.noiseKey.private).toString("base64"),
    ])
      expect(stored.out).not.toContain(secret);
    await mkdir(join(home, "whatsapp"));
    await writeFile(
      join(home, "whatsapp", "creds.json"),
      JSON.stringify({ me: { id: "491700000000:1@s.whatsapp.net" } }),
    );
    const paired = await doctor({ WHATSAPP: "1" });
    expect(paired.out).toMatch(/^ok {4}whatsapp: paired/m);
    expect(paired.out).not.toContain("491700000000");
  });
});

describe("warden doctor against hostile or absent platform servers", SLOW, () => {
  let hostile: Server;
  let hostileUrl: string;
  const seen: string[] = [];

  beforeAll(async () => {
    // Answers every call with the Authorization header and path echoed back, in every field.
    hostile = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const echo = `${req.url} ${req.headers.authorization ?? ""}`;
      if (req.url?.includes("/partial")) {
        // Only the secret half of the token, which alone looks like harmless words.
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ ok: false, description: WRONG_TG.split(":")[1] }));
        return;
      }
      if (req.url?.includes("/huge")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(`{"ok":false,"description":"${"x".repeat(8 * 1024 * 1024)}"}`);
        return;
      }
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: false, description: echo, error: echo, message: echo }));
    });
    await new Promise<void>((resolve) => hostile.listen(0, "127.0.0.1", resolve));
    hostileUrl = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
    closers.push(() => {
      hostile.closeAllConnections();
      return new Promise((resolve) => hostile.close(() => resolve()));
    });
  });

  it("a server echoing the token in its error text: the text is not shown, the token never printed", async () => {
    const r = await doctor({
      TELEGRAM_BOT_TOKEN: WRONG_TG,
      TELEGRAM_API_ROOT: hostileUrl,
      SLACK_BOT_TOKEN: WRONG_SLACK,
      SLACK_SIGNING_SECRET: "signing-secret-not-to-print",
      SLACK_API_URL: `${hostileUrl}/api/`,
      DISCORD_BOT_TOKEN: WRONG_DISCORD,
      DISCORD_API_URL: `${hostileUrl}/api`,
    });
    expect(r.fails.sort(), r.out).toEqual(expected("discord", "slack", "telegram"));
    expect(r.out).toMatch(/refused: \(not shown\)/);
    expectNoToken(r.out);
    expect(r.out).not.toContain("signing-secret-not-to-print");
    expect(seen.some((s) => s.startsWith("POST /bot"))).toBe(true);
  });

  it("a server echoing only the secret half of the token: not shown", async () => {
    const r = await doctor({ TELEGRAM_BOT_TOKEN: WRONG_TG, TELEGRAM_API_ROOT: `${hostileUrl}/partial` });
    expect(r.out).toContain("FAIL  telegram: the token in TELEGRAM_BOT_TOKEN was refused: (not shown)");
    expect(r.out).not.toContain(WRONG_TG.split(":")[1]);
    expectNoToken(r.out);
  });

  it("an 8 MB answer is read only in part and still judged a refusal", async () => {
    const r = await doctor({ TELEGRAM_BOT_TOKEN: WRONG_TG, TELEGRAM_API_ROOT: `${hostileUrl}/huge` });
    expect(r.fails.sort(), r.out).toEqual(expected("telegram"));
    expect(r.out.length).toBeLessThan(20_000);
    expectNoToken(r.out);
  });

  it("an API root where nothing listens: unreachable with the error code, token (in the URL) never printed", async () => {
    const closed: TcpServer = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await doctor({ TELEGRAM_BOT_TOKEN: WRONG_TG, TELEGRAM_API_ROOT: `http://127.0.0.1:${port}` });
    expect(r.out).toContain(
      `FAIL  telegram: cannot reach TELEGRAM_API_ROOT (http://127.0.0.1:${port}): ECONNREFUSED`,
    );
    expectNoToken(r.out);
    expect(r.code).toBe(1);
  });

  it("a malformed API root or a token with a newline: no error message quoting the URL or header", async () => {
    const r = await doctor({
      TELEGRAM_BOT_TOKEN: WRONG_TG,
      TELEGRAM_API_ROOT: "::not a url::",
      DISCORD_BOT_TOKEN: `${WRONG_DISCORD}\nx-injected: 1`,
      DISCORD_API_URL: `${hostileUrl}/api`,
    });
    expect(r.fails.sort(), r.out).toEqual(expected("discord", "telegram"));
    expectNoToken(r.out);
    expect(r.out).not.toContain("x-injected");
    expect(r.code).toBe(1);
  });
});
