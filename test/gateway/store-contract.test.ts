/**
 * The Store contract against SQLite (a temp file, and a second connection to it as the "replica")
 * and against a real PostgreSQL 15 started for this file (a schema per store, a twin on the same
 * schema). With CI set, a machine without PostgreSQL fails here instead of skipping.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe } from "vitest";
import { openPostgresStore } from "../../gateway/postgres/postgres-store.js";
import { openSqliteStore } from "../../gateway/sqlite-store.js";
import { storeContract } from "../contracts/store.contract.js";
import { postgresUnavailable, startPostgres, type TestPostgres } from "../support/postgres.js";

let lastFile = "";
storeContract("SQLite", {
  open: async () => {
    lastFile = join(mkdtempSync(join(tmpdir(), "warden-store-")), "warden.db");
    return openSqliteStore(lastFile);
  },
  openTwin: async () => openSqliteStore(lastFile),
});

const skip = postgresUnavailable();
describe.skipIf(skip !== undefined)(`PostgreSQL${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let pg: TestPostgres;
  let lastUrl = "";
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => pg?.stop());
  storeContract("PostgreSQL", {
    open: async () => {
      lastUrl = await pg.schema();
      return openPostgresStore({ url: lastUrl });
    },
    openTwin: async () => openPostgresStore({ url: lastUrl }),
    crossNotify: true,
  });
});
