/**
 * `warden doctor`'s WhatsApp check where `warden start` keeps the linked device: the sealed
 * `whatsapp-auth`/`creds` row of the bot store (SQLite warden.db, or PostgreSQL), written here by the
 * real writer (store-auth.ts) so a change of its format breaks this test. Paired → ok; saved before
 * the QR was scanned, or nothing → the not-paired warning; sealed under another key → FAIL; no key
 * → warn; a device linked before the store (home/whatsapp/creds.json) is still recognised. Reading
 * creates nothing (no warden.db, no tables, no master key), and the report never holds the phone
 * number, the credentials, the sealed row, the master key or a database password.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBotStore, openPostgresBotStore } from "../../bot/bot-store.js";
import { storeAuthState } from "../../bot/channels/whatsapp/store-auth.js";
import type { StateRows } from "../../bot/persisted-state.js";
import type { ChatSettings } from "../../cli/chat-channels.js";
import type { Check } from "../../cli/doctor-checks.js";
import { checkPlatforms, type PlatformContext } from "../../cli/doctor-platforms.js";
import { openPostgresSql, openSqliteSql, openSqliteStore, Vault } from "../../gateway/index.js";
import { postgresUnavailable, startPostgres, type TestPostgres } from "../support/postgres.js";

const KEY = randomBytes(32).toString("hex");
const OTHER_KEY = randomBytes(32).toString("hex");
const PHONE = "491701234567";
const settings = { whatsapp: {} } as ChatSettings;

/** What a pairing leaves in the store, and everything about it that must never be printed. */
async function pairInStore(rows: StateRows, key: string, scanned: boolean): Promise<string[]> {
  const vault = Vault.fromKey(Buffer.from(key, "hex"));
  const auth = await storeAuthState({
    rows,
    sealer: {
      seal: (b) => vault.sealBytes(b, "whatsapp-auth"),
      open: (b) => vault.openBytes(b, "whatsapp-auth"),
    },
  });
  if (scanned) auth.state.creds.me = { id: `${PHONE}:7@s.whatsapp.net`, name: "Family phone" };
  await auth.saveCreds();
  const sealed = (await rows.stateGet("whatsapp-auth", "creds")) ?? "";
  const c = auth.state.creds;
  return [PHONE, key, sealed.slice(0, 40), c.noiseKey.private, c.signedIdentityKey.private, c.advSecretKey]
    .map((x) => (typeof x === "string" ? x : Buffer.from(x).toString("base64")))
    .concat(Buffer.from(c.noiseKey.private).toString("hex"));
}

async function doctor(ctx: PlatformContext, secrets: string[] = []): Promise<Check> {
  const checks = await checkPlatforms(settings, ctx);
  expect(checks).toHaveLength(1);
  const text = JSON.stringify(checks);
  for (const s of [...secrets, KEY, OTHER_KEY]) expect(text).not.toContain(s);
  return checks[0] as Check;
}

const homes: string[] = [];
async function freshHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), "warden-doctor-wa-"));
  homes.push(home);
  return home;
}
afterAll(async () => {
  for (const h of homes) await rm(h, { recursive: true, force: true });
});

describe("doctor: WhatsApp pairing in SQLite", () => {
  it("nothing linked: the not-paired warning, and nothing is created", async () => {
    const home = await freshHome();
    const c = await doctor({ home });
    expect([c.status, c.message]).toEqual([
      "warn",
      "not paired yet (no paired auth state in WARDEN_HOME/warden.db)",
    ]);
    expect(c.fix).toMatch(/scan the QR/);
    expect(existsSync(join(home, "warden.db"))).toBe(false);
    expect(existsSync(join(home, "master.key"))).toBe(false);
  });

  it("a warden.db whose bot never started: not paired, and no bot table is created", async () => {
    const home = await freshHome();
    const db = join(home, "warden.db");
    const gateway = openSqliteStore(db);
    await gateway.listAgents();
    await gateway.close();
    expect((await doctor({ home })).message).toMatch(/^not paired yet/);
    const sql = openSqliteSql(db);
    const tables = await sql.all<{ name: string }>("SELECT name FROM sqlite_master WHERE name = 'bot_state'");
    await sql.close();
    expect(tables).toEqual([]);
  });

  it("a linked device in the store: paired, with the key from WARDEN_MASTER_KEY or master.key", async () => {
    const home = await freshHome();
    const store = openBotStore(join(home, "warden.db"));
    const secrets = await pairInStore(store, KEY, true);
    await store.close();
    const c = await doctor({ home, masterKey: KEY }, secrets);
    expect([c.status, c.message]).toEqual(["ok", "paired (linked device in WARDEN_HOME/warden.db)"]);
    await writeFile(join(home, "master.key"), `${KEY}\n`, { mode: 0o600 });
    expect((await doctor({ home }, secrets)).status).toBe("ok");
  });

  it("credentials saved before the QR was scanned are not a pairing", async () => {
    const home = await freshHome();
    const store = openBotStore(join(home, "warden.db"));
    const secrets = await pairInStore(store, KEY, false);
    await store.close();
    const c = await doctor({ home, masterKey: KEY }, secrets);
    expect([c.status, c.message]).toEqual([
      "warn",
      "not paired yet (no paired auth state in WARDEN_HOME/warden.db)",
    ]);
  });

  it("sealed under another master key: FAIL naming the key; no key at all: warn, none created", async () => {
    const home = await freshHome();
    const store = openBotStore(join(home, "warden.db"));
    const secrets = await pairInStore(store, KEY, true);
    await store.close();
    const wrong = await doctor({ home, masterKey: OTHER_KEY }, secrets);
    expect(wrong.status).toBe("fail");
    expect(wrong.message).toMatch(/does not open with this master key/);
    expect(wrong.fix).toMatch(/WARDEN_MASTER_KEY/);
    const none = await doctor({ home }, secrets);
    expect(none.status).toBe("warn");
    expect(none.message).toMatch(/no master key here/);
    expect(existsSync(join(home, "master.key"))).toBe(false);
  });

  it("a device linked before the store (home/whatsapp/creds.json) is still recognised", async () => {
    const home = await freshHome();
    await mkdir(join(home, "whatsapp"));
    const legacy = join(home, "whatsapp", "creds.json");
    await writeFile(legacy, JSON.stringify({ me: { id: `${PHONE}:1@s.whatsapp.net` } }));
    const c = await doctor({ home }, [PHONE]);
    expect(c.status).toBe("ok");
    expect(c.message).toBe(`paired (linked before the store: ${legacy}, still used as it is)`);
    await writeFile(legacy, JSON.stringify({ noiseKey: {} }));
    const unpaired = await doctor({ home });
    expect([unpaired.status, unpaired.message]).toEqual([
      "warn",
      `not paired yet (no paired auth state in ${legacy})`,
    ]);
    expect(unpaired.fix).toMatch(/^delete .*whatsapp so the pairing is kept in WARDEN_HOME\/warden.db/);
  });
});

const skip = postgresUnavailable();
describe.skipIf(skip !== undefined)("doctor: WhatsApp pairing in PostgreSQL", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => pg?.stop());

  it("nothing linked → not paired without creating tables; a linked device → paired", async () => {
    const url = await pg.schema("wa_doctor");
    const home = await freshHome();
    const empty = await doctor({ home, databaseUrl: url, masterKey: KEY });
    expect([empty.status, empty.message]).toEqual([
      "warn",
      "not paired yet (no paired auth state in the database (WARDEN_DATABASE_URL))",
    ]);
    const sql = await openPostgresSql({ url, max: 1 });
    expect(await sql.get("SELECT to_regclass('bot_state') AS t")).toEqual({ t: null });
    await sql.close();

    const store = await openPostgresBotStore({ url });
    const secrets = await pairInStore(store, KEY, true);
    await store.close();
    const c = await doctor({ home, databaseUrl: url, masterKey: KEY }, secrets);
    expect([c.status, c.message]).toEqual([
      "ok",
      "paired (linked device in the database (WARDEN_DATABASE_URL))",
    ]);
    expect((await doctor({ home, databaseUrl: url, masterKey: OTHER_KEY }, secrets)).status).toBe("fail");
  }, 60_000);

  it("an unreachable database warns by code, never with the URL's password", async () => {
    const c = await doctor(
      { home: await freshHome(), databaseUrl: "postgres://u:hunter2-secret@127.0.0.1:1/db" },
      ["hunter2"],
    );
    expect(c.status).toBe("warn");
    expect(c.message).toMatch(
      /^could not read the pairing from the database \(WARDEN_DATABASE_URL\) \(ECONNREFUSED\)$/,
    );
  });
});
