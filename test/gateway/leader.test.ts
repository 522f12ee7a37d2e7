/**
 * Leader election on a real PostgreSQL: one leader among two; a leader whose database session is
 * cut (the server ends its backend, as a partition or restart would) steps down without waiting for
 * anyone, and leadership is taken again by exactly one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { electLeader } from "../../gateway/postgres/leader.js";
import { pollUntil } from "../fakes/poll-until.js";
import { postgresUnavailable, startPostgres, type TestPostgres } from "../support/postgres.js";

const skip = postgresUnavailable();
describe.skipIf(skip !== undefined)("electLeader()", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => pg?.stop());

  it("one leads; a leader cut off from the database steps down, then exactly one leads again", async () => {
    const url = await pg.schema("leader");
    const timing = { retryMs: 200, pingMs: 200 };
    const a = await electLeader({ url, ...timing });
    const b = await electLeader({ url, ...timing });
    try {
      expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
      const changes: boolean[] = [];
      a.onChange((leader) => changes.push(leader));
      const admin = new (await import("pg")).default.Client({ connectionString: pg.url });
      await admin.connect();
      // End the session holding the advisory lock: the leader's.
      await admin.query(
        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted",
      );
      await admin.end();
      await pollUntil("A to step down", () => (changes.includes(false) ? true : undefined), 5000);
      // Then exactly one leads again (whichever retried first, A with a new session included).
      await pollUntil("a new leader", () => (a.isLeader() !== b.isLeader() ? true : undefined), 5000);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
