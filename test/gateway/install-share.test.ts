/**
 * Replicas share the install CA and control token through the store, sealed with the master key:
 * the first replica's files win on every other; a replica with another master key refuses to start
 * (never silently becomes a second Warden with its own CA); SQLite installs share nothing; the
 * stored blob holds no key material in the clear.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { shareInstallFiles } from "../../gateway/install-share.js";
import { Vault } from "../../gateway/vault.js";

function memoryKv(kind: "sqlite" | "postgres" = "postgres") {
  const rows = new Map<string, Buffer>();
  return {
    rows,
    kind,
    kvGet: async (ns: string, key: string) => rows.get(`${ns}/${key}`),
    kvPutIfAbsent: async (ns: string, key: string, value: Buffer) => {
      if (rows.has(`${ns}/${key}`)) return false;
      rows.set(`${ns}/${key}`, value);
      return true;
    },
  };
}

async function home(tag: string): Promise<{ dir: string; create: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `wdn-share-${tag}-`));
  return {
    dir,
    create: async () => {
      await mkdir(join(dir, "ca"), { recursive: true });
      await writeFile(join(dir, "ca", "ca-key.pem"), `KEY-${tag}`, { mode: 0o600 });
      await writeFile(join(dir, "ca", "ca.pem"), `CERT-${tag}`);
      await writeFile(join(dir, "control.token"), `TOKEN-${tag}`, { mode: 0o600 });
    },
  };
}

describe("shareInstallFiles()", () => {
  it("the first replica's CA and token win on the next; the stored blob is sealed", async () => {
    const store = memoryKv();
    const vault = Vault.fromKey(randomBytes(32));
    const a = await home("a");
    const b = await home("b");
    expect(await shareInstallFiles(store, vault, a.dir, a.create)).toBe(false);
    await b.create(); // b had its own files before joining
    expect(await shareInstallFiles(store, vault, b.dir, b.create)).toBe(true);
    expect(await readFile(join(b.dir, "ca", "ca-key.pem"), "utf8")).toBe("KEY-a");
    expect(await readFile(join(b.dir, "control.token"), "utf8")).toBe("TOKEN-a");
    const blob = [...store.rows.values()][0]?.toString("latin1") ?? "";
    expect(blob).not.toContain("KEY-a");
    expect(blob).not.toContain("TOKEN-a");
  });

  it("a replica with another master key refuses to start and keeps its files", async () => {
    const store = memoryKv();
    const a = await home("a");
    const b = await home("b");
    await shareInstallFiles(store, Vault.fromKey(randomBytes(32)), a.dir, a.create);
    await b.create();
    await expect(shareInstallFiles(store, Vault.fromKey(randomBytes(32)), b.dir, b.create)).rejects.toThrow(
      /another WARDEN_MASTER_KEY/,
    );
    expect(await readFile(join(b.dir, "ca", "ca-key.pem"), "utf8")).toBe("KEY-b");
  });

  it("shares nothing on SQLite", async () => {
    const store = memoryKv("sqlite");
    const a = await home("a");
    expect(await shareInstallFiles(store, Vault.fromKey(randomBytes(32)), a.dir, a.create)).toBe(false);
    expect(store.rows.size).toBe(0);
  });
});
