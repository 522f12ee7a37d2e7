/**
 * `warden doctor`'s database check against a real PostgreSQL: usable → ok; a role without the
 * privileges it needs → fail naming them; nothing listening → fail without the URL (it may carry a
 * password) in the report; the master key must come from the environment for replicas.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDatabase } from "../../cli/doctor-database.js";
import { postgresUnavailable, startPostgres, type TestPostgres } from "../support/postgres.js";

const skip = postgresUnavailable();
describe.skipIf(skip !== undefined)("doctor: database", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => pg?.stop());

  it("ok when PostgreSQL and the tables are usable; warns when the master key is per-home", async () => {
    const url = await pg.schema();
    expect((await checkDatabase(url, true)).map((c) => [c.item, c.status])).toEqual([["database", "ok"]]);
    expect((await checkDatabase(url, false)).map((c) => [c.item, c.status])).toEqual([
      ["database", "ok"],
      ["master key", "warn"],
    ]);
  });

  it("names the missing privilege for a role that may not create tables", async () => {
    const admin = await pg.schema("locked");
    const pgmod = (await import("pg")).default;
    const c = new pgmod.Client({ connectionString: pg.url });
    await c.connect();
    await c.query(
      "CREATE ROLE weak LOGIN; REVOKE ALL ON SCHEMA locked FROM PUBLIC; GRANT USAGE ON SCHEMA locked TO weak",
    );
    await c.end();
    const weakUrl = admin.replace("postgres://warden@", "postgres://weak@");
    const [check] = await checkDatabase(weakUrl, true);
    expect(check?.status).toBe("fail");
    expect(check?.message).toMatch(/may not create Warden's tables/);
  });

  it("fails without printing the URL when nothing listens", async () => {
    const checks = await checkDatabase("postgres://u:hunter2-secret@127.0.0.1:1/db", true);
    expect(checks[0]?.status).toBe("fail");
    expect(JSON.stringify(checks)).not.toContain("hunter2");
  });
});
