/**
 * The BotStore contract against SQLite (a temp warden.db; the "replica" is a second opener of the
 * same file, which shares its one connection) and against a real PostgreSQL started for this file (a
 * schema per store, the twin a second pool on that schema). Plus what only one side has: warden.db
 * files made by earlier versions open unchanged; PostgreSQL replicas may start at once; a role that
 * may not create the tables is told which. With CI set, a machine without PostgreSQL fails here.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBotStore, openBotStore, openPostgresBotStore } from "../../bot/bot-store.js";
import { openDatabase, openPostgresSql, openSqliteSql } from "../../gateway/index.js";
import { botStoreContract } from "../contracts/bot-store.contract.js";
import { postgresUnavailable, startPostgres, type TestPostgres } from "../support/postgres.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempFile = () => {
  const dir = mkdtempSync(join(tmpdir(), "warden-botstore-"));
  dirs.push(dir);
  return join(dir, "warden.db");
};

let lastFile = "";
botStoreContract("SQLite", {
  open: async (now) => {
    lastFile = tempFile();
    return openBotStore(lastFile, { now });
  },
  openTwin: async (now) => openBotStore(lastFile, { now }),
  rows: async (table) => {
    const sql = openSqliteSql(lastFile);
    try {
      return await sql.all(`SELECT * FROM ${table}`);
    } finally {
      await sql.close();
    }
  },
});

describe("BotStore on SQLite", () => {
  it("opens a warden.db made by an earlier version and keeps its rows", async () => {
    const file = tempFile();
    const db = openDatabase(file);
    // The tables as earlier versions made them: no warden_schema row, `by` unquoted.
    db.exec(`
CREATE TABLE bot_people (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, preferred TEXT, created_at INTEGER NOT NULL);
CREATE TABLE bot_identities (identity TEXT PRIMARY KEY, person TEXT NOT NULL, private_chat TEXT, linked_at INTEGER NOT NULL);
CREATE TABLE bot_setups (address TEXT PRIMARY KEY, by TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE bot_batches (id TEXT PRIMARY KEY, key TEXT NOT NULL, opened_at INTEGER NOT NULL, last_at INTEGER NOT NULL);
INSERT INTO bot_people VALUES ('p1', 'Olga', 'owner', 'web', 1);
INSERT INTO bot_identities VALUES ('web:1', 'p1', '["web","dm1","t9"]', 1);
INSERT INTO bot_setups VALUES ('["web","c1",null]', 'web:1', 'agent', '{"step":"name"}', 9e15);
INSERT INTO bot_batches VALUES ('b1', 'k', 5, 5);`);
    db.close();
    const s = openBotStore(file);
    expect(await s.personOf("web:1")).toEqual({ id: "p1", name: "Olga", role: "owner", preferred: "web" });
    expect(await s.privateChatOf("web:1")).toEqual({ platform: "web", chatId: "dm1" });
    expect(await s.setupOf({ platform: "web", chatId: "c1" }, "web:1")).toEqual({
      kind: "agent",
      data: { step: "name" },
    });
    expect(await s.addBatchItem("b1", "k", "a1", 6)).toBe(0);
    expect(await s.latestBatch("k")).toEqual({ id: "b1", lastAt: 6, size: 1 });
    await s.close();
    const check = openDatabase(file);
    expect(check.prepare("SELECT version FROM warden_schema WHERE part = 'bot'").get()).toEqual({
      version: 1,
    });
    check.close();
  });

  it("createBotStore takes a better-sqlite3 connection or an Sql, and shares the file with its opener", async () => {
    const s = createBotStore(openDatabase(":memory:"));
    await s.statePut("n", "k", "v", Date.now() + 60_000);
    expect(await s.stateGet("n", "k")).toBe("v");
    await s.close();
    const file = tempFile();
    const sql = openSqliteSql(file);
    const a = createBotStore(sql);
    const b = openBotStore(file);
    await a.bind("demo", { platform: "web", chatId: "c" });
    await a.close(); // the other opener keeps the shared connection
    expect(await b.bindingsOf("demo")).toEqual([{ platform: "web", chatId: "c" }]);
    await b.close();
  });
});

const skip = postgresUnavailable();
describe.skipIf(skip !== undefined)(`PostgreSQL${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let pg: TestPostgres;
  let lastUrl = "";
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => pg?.stop());

  botStoreContract("PostgreSQL", {
    open: async (now) => {
      lastUrl = await pg.schema();
      return openPostgresBotStore({ url: lastUrl, now });
    },
    openTwin: async (now) => openPostgresBotStore({ url: lastUrl, now }),
    rows: async (table) => {
      const sql = await openPostgresSql({ url: lastUrl, max: 1 });
      try {
        return await sql.all(`SELECT * FROM ${table}`);
      } finally {
        await sql.close();
      }
    },
  });

  it("replicas starting at once on an empty schema both get the tables", async () => {
    const url = await pg.schema();
    const [a, b] = await Promise.all([openPostgresBotStore({ url }), openPostgresBotStore({ url })]);
    await a.statePut("n", "k", "v", Date.now() + 60_000);
    expect(await b.stateGet("n", "k")).toBe("v");
    await Promise.all([a.close(), b.close()]);
  });

  it("a role that may not create the tables is told which, and what to grant", async () => {
    const url = await pg.schema("weak_target");
    const admin = await openPostgresSql({ url: pg.url, max: 1 });
    await admin.exec("CREATE ROLE weak LOGIN; GRANT USAGE ON SCHEMA weak_target TO weak");
    await admin.close();
    const weakUrl = url.replace("postgres://warden@", "postgres://weak@");
    await expect(openPostgresBotStore({ url: weakUrl })).rejects.toThrow(
      /may not create Warden's tables \(bot: bot_people, .*bot_state\): grant it CREATE/,
    );
  });
});
