import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { bodyDigest, createHeldBodies } from "./held-bodies.js";
import { openSqliteStore } from "./sqlite-store.js";
import { Vault } from "./vault.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function setup() {
  const root = await mkdtemp(join(tmpdir(), "warden-bodies-"));
  dirs.push(root);
  const dir = join(root, "held");
  const store = openSqliteStore(":memory:");
  const bodies = createHeldBodies({ dir, sealer: Vault.fromKey(randomBytes(32)), store, spoolAbove: 64 });
  return { dir, store, bodies };
}

const MARKER = "MARKER-a1b2c3-plaintext";
const big = Buffer.from(MARKER.repeat(20));

describe("createHeldBodies()", () => {
  it("spools bodies above the threshold to a 0600 file that does not contain the plaintext", async () => {
    const { dir, bodies } = await setup();
    expect(bodies.placeFor(big.length)).toBe("spool");
    await bodies.put("id1", big);
    const file = join(dir, "id1.body");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const raw = await readFile(file);
    expect(raw.includes(MARKER)).toBe(false);
    expect(raw.includes(Buffer.from(MARKER).toString("base64").slice(0, 12))).toBe(false);
    expect((await bodies.take("id1", "spool", bodyDigest(big))).equals(big)).toBe(true);
  });

  it("keeps small bodies sealed in the store, not in the spool folder", async () => {
    const { dir, store, bodies } = await setup();
    const small = Buffer.from("MARKER small");
    expect(bodies.placeFor(small.length)).toBe("store");
    await bodies.put("id2", small);
    expect(await readdir(dir).catch(() => [])).toEqual([]);
    expect((await store.getHeldBody("id2"))?.includes("MARKER")).toBe(false);
    expect((await bodies.take("id2", "store", bodyDigest(small))).toString()).toBe("MARKER small");
  });

  it("refuses a body moved from another approval, edited, or not matching the digest", async () => {
    const { dir, bodies } = await setup();
    await bodies.put("a", big);
    await bodies.put("b", Buffer.from(big).fill(0x41, 0, 1));
    await rename(join(dir, "a.body"), join(dir, "c.body"));
    await expect(bodies.take("c", "spool", bodyDigest(big))).rejects.toThrow();
    const b = await readFile(join(dir, "b.body"));
    b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 1;
    await writeFile(join(dir, "b.body"), b);
    await expect(bodies.take("b", "spool", bodyDigest(big))).rejects.toThrow();
    await bodies.put("d", big);
    await expect(bodies.take("d", "spool", bodyDigest(Buffer.from("other")))).rejects.toThrow();
  });

  it("a take racing the write waits for it", async () => {
    const { bodies } = await setup();
    const writing = bodies.put("id3", big);
    const got = await bodies.take("id3", "spool", bodyDigest(big));
    await writing;
    expect(got.equals(big)).toBe(true);
  });

  it("drop deletes; sweep removes orphans of any name and keeps live bodies", async () => {
    const { dir, store, bodies } = await setup();
    await bodies.put("live", big);
    await bodies.put("dead", big);
    await bodies.put("deadsmall", Buffer.from("x"));
    await writeFile(join(dir, "stray.tmp"), "junk");
    expect(await bodies.sweep((id) => id === "live")).toBe(3);
    expect(await readdir(dir)).toEqual(["live.body"]);
    expect(await store.listHeldBodies()).toEqual([]);
    await bodies.drop("live");
    expect(await readdir(dir)).toEqual([]);
  });

  it("refuses ids that are not safe file names", async () => {
    const { bodies } = await setup();
    await expect(bodies.put("../x", big)).rejects.toThrow();
  });
});
