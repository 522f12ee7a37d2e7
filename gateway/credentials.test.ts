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
  it("opens a secret once and answers later calls with the same value", () => {
    const { credentials, open } = setup();
    credentials.setSecret("TOKEN", "real-value-1");
    const first = credentials.secret("TOKEN");
    expect(first?.reveal()).toBe("real-value-1");
    for (let i = 0; i < 5; i++) expect(credentials.secret("TOKEN")).toBe(first);
    expect(open).toHaveBeenCalledTimes(1);
    expect(inspect(first)).toBe("[secret]");
  });

  it("a value set again here is opened afresh, even when it is the same value", () => {
    const { credentials, open } = setup();
    credentials.setSecret("TOKEN", "real-value-1");
    expect(credentials.secret("TOKEN")?.reveal()).toBe("real-value-1");
    credentials.setSecret("TOKEN", "real-value-2");
    expect(credentials.secret("TOKEN")?.reveal()).toBe("real-value-2");
    credentials.setSecret("TOKEN", "real-value-2");
    expect(credentials.secret("TOKEN")?.reveal()).toBe("real-value-2");
    expect(open).toHaveBeenCalledTimes(3);
  });

  it("a change made in the store by another process takes effect on the next call", () => {
    const { credentials, store, vault } = setup();
    credentials.setSecret("TOKEN", "real-value-1");
    expect(credentials.secret("TOKEN")?.reveal()).toBe("real-value-1");
    store.putSecret("TOKEN", vault.seal("rotated-value"));
    expect(credentials.secret("TOKEN")?.reveal()).toBe("rotated-value");
    store.deleteSecret("TOKEN");
    expect(credentials.secret("TOKEN")).toBeUndefined();
  });

  it("a deleted secret is gone at once", () => {
    const { credentials } = setup();
    credentials.setSecret("TOKEN", "real-value-1");
    expect(credentials.secret("TOKEN")).toBeDefined();
    expect(credentials.deleteSecret("TOKEN")).toBe(true);
    expect(credentials.secret("TOKEN")).toBeUndefined();
  });

  it("a tampered blob in the store fails closed instead of serving the cached value", () => {
    const { credentials, store, vault } = setup();
    credentials.setSecret("TOKEN", "real-value-1");
    expect(credentials.secret("TOKEN")?.reveal()).toBe("real-value-1");
    const blob = Buffer.from(vault.seal("real-value-1"));
    blob[blob.length - 1] = (blob[blob.length - 1] ?? 0) ^ 1;
    store.putSecret("TOKEN", blob);
    let message = "";
    try {
      credentials.secret("TOKEN");
    } catch (err) {
      message = String((err as Error).message);
    }
    expect(message).toMatch(/failed authentication/);
    expect(message).not.toContain("real-value");
    expect(() => credentials.secret("TOKEN")).toThrow();
  });
});
