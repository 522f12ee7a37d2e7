/**
 * Credentials: a secret's value is opened (decrypted) once per version, and every change — made
 * here, or straight in the store as `warden secret set` in another process does — takes effect on
 * the next call; a tampered blob is never answered from the cache.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { createCredentials } from "./credentials.js";
import { openSqliteStore } from "./sqlite-store.js";
import { Vault } from "./vault.js";

function setup() {
  const store = openSqliteStore(join(mkdtempSync(join(tmpdir(), "warden-cred-")), "warden.db"));
  const vault = Vault.fromKey(randomBytes(32));
  const open = vi.spyOn(vault, "open");
  return { store, vault, open, credentials: createCredentials(store, vault) };
}

describe("credentials.secret", () => {
  it("opens a secret once and answers later calls with the same value", async () => {
    const { credentials, open } = setup();
    await credentials.setSecret("TOKEN", "real-value-1");
    const first = await credentials.secret("TOKEN");
    expect(first?.reveal()).toBe("real-value-1");
    for (let i = 0; i < 5; i++) expect(await credentials.secret("TOKEN")).toBe(first);
    expect(open).toHaveBeenCalledTimes(1);
    expect(inspect(first)).toBe("[secret]");
  });

  it("a value set again here is opened afresh, even when it is the same value", async () => {
    const { credentials, open } = setup();
    await credentials.setSecret("TOKEN", "real-value-1");
    expect((await credentials.secret("TOKEN"))?.reveal()).toBe("real-value-1");
    await credentials.setSecret("TOKEN", "real-value-2");
    expect((await credentials.secret("TOKEN"))?.reveal()).toBe("real-value-2");
    await credentials.setSecret("TOKEN", "real-value-2");
    expect((await credentials.secret("TOKEN"))?.reveal()).toBe("real-value-2");
    expect(open).toHaveBeenCalledTimes(3);
  });

  it("a change made in the store by another process takes effect on the next call", async () => {
    const { credentials, store, vault } = setup();
    await credentials.setSecret("TOKEN", "real-value-1");
    expect((await credentials.secret("TOKEN"))?.reveal()).toBe("real-value-1");
    await store.putSecret("TOKEN", vault.seal("rotated-value"));
    expect((await credentials.secret("TOKEN"))?.reveal()).toBe("rotated-value");
    await store.deleteSecret("TOKEN");
    expect(await credentials.secret("TOKEN")).toBeUndefined();
  });

  it("a deleted secret is gone at once", async () => {
    const { credentials } = setup();
    await credentials.setSecret("TOKEN", "real-value-1");
    expect(await credentials.secret("TOKEN")).toBeDefined();
    expect(await credentials.deleteSecret("TOKEN")).toBe(true);
    expect(await credentials.secret("TOKEN")).toBeUndefined();
  });

  it("a tampered blob in the store fails closed instead of serving the cached value", async () => {
    const { credentials, store, vault } = setup();
    await credentials.setSecret("TOKEN", "real-value-1");
    expect((await credentials.secret("TOKEN"))?.reveal()).toBe("real-value-1");
    const blob = Buffer.from(vault.seal("real-value-1"));
    blob[blob.length - 1] = (blob[blob.length - 1] ?? 0) ^ 1;
    await store.putSecret("TOKEN", blob);
    let message = "";
    try {
      await credentials.secret("TOKEN");
    } catch (err) {
      message = String((err as Error).message);
    }
    expect(message).toMatch(/failed authentication/);
    expect(message).not.toContain("real-value");
    await expect(credentials.secret("TOKEN")).rejects.toThrow();
  });
});
