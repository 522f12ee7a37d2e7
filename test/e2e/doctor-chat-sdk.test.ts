/**
 * `warden doctor` for the Chat SDK webhook platforms, run as the real compiled CLI against our fakes:
 * Teams (client-credentials token at TEAMS_TOKEN_URL), Google Chat (JWT-bearer grant at the
 * credentials' token_uri), GitHub (GET /user), Linear (viewer query), WhatsApp Cloud (GET the phone
 * number). Right credentials pass; wrong ones fail by name; partial settings name what is missing;
 * the public URL advice follows WARDEN_PUBLIC_URL; no secret ever appears in the output, not even
 * when a hostile API echoes it back.
 */
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WARDEN_BIN } from "../fakes/gateway-process.js";
import { type FakeGchat, startFakeGchat } from "../fakes/gchat-api.js";
import { type FakeGitHub, startFakeGitHub } from "../fakes/github-api.js";
import { type FakeLinear, startFakeLinear } from "../fakes/linear-api.js";
import { type PlatformKeys, startPlatformKeys } from "../fakes/platform-jwt.js";
import { type FakeTeams, startFakeTeams } from "../fakes/teams-api.js";
import { type FakeWaCloud, startFakeWaCloud } from "../fakes/wacloud-api.js";

const TEAMS_ID = "00000000-aaaa-4bbb-8ccc-0000000000d0";
const TEAMS_PW = "teams-doctor-PASSWORD-secret";
const GH_TOKEN = "ghp_doctorTOKENsecret0123456789";
const LIN_KEY = "lin_api_doctorKEYsecret0123456789";
const WA_TOKEN = "EAAdoctorACCESStokenSECRET0123";
const WA_SECRET = "meta-app-secret-doctor-0123";
const WRONG = {
  teams: "teams-WRONG-password-secret",
  gh: "ghp_WRONGtokenSECRET9876543210",
  lin: "lin_api_WRONGkeySECRET98765432",
  wa: "EAAwrongACCESStokenSECRET9876",
};
const SECRETS = [TEAMS_PW, GH_TOKEN, LIN_KEY, WA_TOKEN, WA_SECRET, ...Object.values(WRONG)];

let root: string;
let home: string;
let keys: PlatformKeys;
let teams: FakeTeams;
let gchat: FakeGchat;
let gh: FakeGitHub;
let lin: FakeLinear;
let wa: FakeWaCloud;
let echo: Server;
let echoUrl: string;

interface Run {
  readonly code: number | null;
  readonly out: string;
  readonly fails: string[];
}

/** Runs `warden doctor` with a clean environment plus `env`. */
function doctor(env: Record<string, string>): Promise<Run> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (
      v !== undefined &&
      !/^(WARDEN_|TELEGRAM_|SLACK_|DISCORD_|WHATSAPP|GITHUB_|LINEAR_|TEAMS_|GOOGLE_CHAT_|EMAIL_)/.test(k)
    )
      base[k] = v;
  const ports = ["--web", "127.0.0.1:0", "--control", "127.0.0.1:0", "--listen", "127.0.0.1:0"];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WARDEN_BIN, "doctor", ...ports], {
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

const chatFails = (r: Run) => r.fails.filter((f) => f !== "docker").sort();

function expectNoSecret(out: string, extra: readonly string[] = []): void {
  for (const s of [...SECRETS, ...extra]) expect(out).not.toContain(s);
  expect(out).not.toContain("PRIVATE KEY");
}

const good = (): Record<string, string> => ({
  TEAMS_APP_ID: TEAMS_ID,
  TEAMS_APP_PASSWORD: TEAMS_PW,
  TEAMS_APP_TENANT_ID: "tenant-1",
  TEAMS_API_URL: teams.url,
  TEAMS_TOKEN_URL: teams.tokenUrl,
  GOOGLE_CHAT_CREDENTIALS: gchat.credentials,
  GOOGLE_CHAT_PROJECT_NUMBER: "123456789",
  GOOGLE_CHAT_API_URL: gchat.url,
  GITHUB_TOKEN: GH_TOKEN,
  GITHUB_WEBHOOK_SECRET: "gh-webhook-secret-doctor",
  GITHUB_API_URL: gh.url,
  LINEAR_API_KEY: LIN_KEY,
  LINEAR_WEBHOOK_SECRET: "lin-webhook-secret-doctor",
  LINEAR_API_URL: lin.url,
  WHATSAPP_ACCESS_TOKEN: WA_TOKEN,
  WHATSAPP_APP_SECRET: WA_SECRET,
  WHATSAPP_PHONE_NUMBER_ID: "1000009",
  WHATSAPP_VERIFY_TOKEN: "verify-doctor",
  WHATSAPP_API_URL: wa.url,
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "warden-doctor-sdk-"));
  home = join(root, "home");
  await mkdir(join(home, "policies"), { recursive: true, mode: 0o700 });
  await chmod(home, 0o700);
  await writeFile(join(home, "master.key"), `${"ab".repeat(32)}\n`, { mode: 0o600 });
  keys = await startPlatformKeys();
  teams = await startFakeTeams({ appId: TEAMS_ID, keys, password: TEAMS_PW });
  gchat = await startFakeGchat({ projectNumber: "123456789", keys });
  gh = await startFakeGitHub("gh-webhook-secret-doctor", { token: GH_TOKEN });
  lin = await startFakeLinear("lin-webhook-secret-doctor", { apiKey: LIN_KEY });
  wa = await startFakeWaCloud({ appSecret: WA_SECRET, phoneNumberId: "1000009", accessToken: WA_TOKEN });
  // A hostile API: echoes whatever credentials it was sent, in every field a check might print.
  echo = createServer((req, res) => {
    const said = `${req.headers.authorization ?? ""}`;
    res.writeHead(401, { "content-type": "application/json" });
    res.end(
      JSON.stringify({ message: said, errors: [{ message: said }], error: { code: 190, message: said } }),
    );
  });
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const f of [teams, gchat, gh, lin, wa]) await f?.close();
  await keys?.close();
  await new Promise((r) => echo?.close(r));
  await rm(root, { recursive: true, force: true });
});

const SLOW = { timeout: 120_000 };

describe("warden doctor: Chat SDK platforms", SLOW, () => {
  it("all five accept their credentials; the template and public URL are advised; nothing secret printed", async () => {
    const r = await doctor(good());
    expect(chatFails(r), r.out).toEqual([]);
    for (const item of ["teams", "gchat", "github", "linear", "wacloud"])
      expect(r.out).toMatch(new RegExp(`^ok {4}${item}: credentials accepted`, "m"));
    expect(r.out).toMatch(/^warn {2}wacloud window: WHATSAPP_CARD_TEMPLATE is not set/m);
    expect(r.out).toMatch(/^warn {2}webhooks: .*WARDEN_PUBLIC_URL is not set/m);
    expect(teams.tokenRequests.at(-1)?.get("scope")).toBe("https://api.botframework.com/.default");
    expect(gchat.tokenRequests.length).toBeGreaterThan(0);
    expectNoSecret(r.out);
  });

  it("wrong credentials fail by name, with what to do, exit 1; the wrong secrets are not printed either", async () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
      format: "pem",
      type: "pkcs8",
    });
    const forged = JSON.stringify({ ...JSON.parse(gchat.credentials), private_key: other });
    const r = await doctor({
      ...good(),
      TEAMS_APP_PASSWORD: WRONG.teams,
      GOOGLE_CHAT_CREDENTIALS: forged,
      GITHUB_TOKEN: WRONG.gh,
      LINEAR_API_KEY: WRONG.lin,
      WHATSAPP_ACCESS_TOKEN: WRONG.wa,
    });
    expect(chatFails(r), r.out).toEqual(["gchat", "github", "linear", "teams", "wacloud"]);
    expect(r.out).toMatch(/FAIL {2}github: the credentials in GITHUB_TOKEN were refused: Bad credentials/);
    expect(r.out).toMatch(
      /FAIL {2}teams: .*TEAMS_APP_PASSWORD were refused: Teams token endpoint answered 401/,
    );
    expect(r.out).toMatch(/FAIL {2}wacloud: .*refused: Graph error 190/);
    expect(r.out).toMatch(/→ put the values the platform issued/);
    expect(r.code).toBe(1);
    expectNoSecret(r.out, [String(other).split("\n")[1] ?? "x"]);
  });

  it("an API that echoes the credentials back: its words are not shown", async () => {
    const r = await doctor({
      ...good(),
      GITHUB_API_URL: echoUrl,
      LINEAR_API_URL: `${echoUrl}/graphql`,
      WHATSAPP_API_URL: echoUrl,
    });
    expect(chatFails(r), r.out).toEqual(["github", "linear", "wacloud"]);
    expect(r.out).toContain("(not shown)");
    expectNoSecret(r.out);
  });

  it("partial settings name what is missing; an unreachable API base is named without its path", async () => {
    // A port nobody listens on any more.
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, "127.0.0.1", r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise((r) => gone.close(r));
    const r = await doctor({
      TEAMS_APP_ID: TEAMS_ID,
      LINEAR_WEBHOOK_SECRET: "lin-webhook-secret-doctor",
      WHATSAPP_ACCESS_TOKEN: WA_TOKEN,
      WHATSAPP_APP_SECRET: WA_SECRET,
      WHATSAPP_PHONE_NUMBER_ID: "1000009",
      WHATSAPP_VERIFY_TOKEN: "verify-doctor",
      WHATSAPP_API_URL: `http://127.0.0.1:${port}/secret-path`,
      WARDEN_PUBLIC_URL: "http://warden.example",
    });
    expect(chatFails(r), r.out).toEqual(["linear", "teams", "wacloud"]);
    expect(r.out).toContain("FAIL  teams: only partly configured: TEAMS_APP_PASSWORD is not set");
    expect(r.out).toContain("FAIL  linear: only partly configured: LINEAR_API_KEY is not set");
    expect(r.out).toContain(
      `FAIL  wacloud: cannot reach WHATSAPP_API_URL (http://127.0.0.1:${port}): ECONNREFUSED`,
    );
    expect(r.out).not.toContain("secret-path");
    expect(r.out).toMatch(/^warn {2}webhooks: WARDEN_PUBLIC_URL \(http:\/\/warden\.example\) is not https/m);
    expectNoSecret(r.out);
  });

  it("with an https WARDEN_PUBLIC_URL and a template, both are ok", async () => {
    const r = await doctor({
      ...good(),
      WARDEN_PUBLIC_URL: "https://warden.example/",
      WHATSAPP_CARD_TEMPLATE: "warden_approval:en_US",
    });
    expect(chatFails(r), r.out).toEqual([]);
    expect(r.out).toMatch(/^ok {4}webhooks: platforms call https:\/\/warden\.example\/webhooks\/<platform>/m);
    expect(r.out).toMatch(/^ok {4}wacloud window: .*warden_approval \(en_US\)/m);
  });
});
