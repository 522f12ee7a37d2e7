/**
 * The Chat SDK is coupled by exact versions: every adapter pins `chat` exactly, and two copies of
 * `chat` would mean two card models and two thread registries. One copy, one version, everywhere.
 */
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const PINNED = "4.39.0";

/** Every installed copy of `name` under node_modules, however deep. */
function copiesOf(name: string, dir = join(ROOT, "node_modules"), found: string[] = []): string[] {
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const sub = join(dir, entry.name);
    // Scoped folders (@googleapis/chat is another package) only hold nested node_modules.
    if (entry.name.startsWith("@")) {
      for (const pkg of readdirSync(sub)) copiesOf(name, join(sub, pkg, "node_modules"), found);
      continue;
    }
    if (entry.name === name && existsSync(join(sub, "package.json"))) found.push(sub);
    if (existsSync(join(sub, "node_modules"))) copiesOf(name, join(sub, "node_modules"), found);
  }
  return found;
}

const versionOf = (dir: string): string =>
  (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;

describe("Chat SDK dependencies", () => {
  it("installs exactly one copy of chat, at the pinned version", () => {
    const copies = copiesOf("chat");
    expect(copies).toEqual([join(ROOT, "node_modules", "chat")]);
    expect(versionOf(copies[0]!)).toBe(PINNED);
  });

  it("pins chat and every @chat-adapter package to the same exact version", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Record<
      string,
      Record<string, string> | undefined
    >;
    const all = { ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.devDependencies };
    const chatSdk = Object.entries(all).filter(([n]) => n === "chat" || n.startsWith("@chat-adapter/"));
    expect(chatSdk.length).toBeGreaterThanOrEqual(7);
    for (const [, v] of chatSdk) expect(v).toBe(PINNED);
    expect(versionOf(join(ROOT, "node_modules", "@chat-adapter", "shared"))).toBe(PINNED);
  });
});
