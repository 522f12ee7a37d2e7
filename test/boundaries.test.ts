/**
 * Architecture rules from DESIGN.md §1, checked by reading imports: policies/ does no I/O, gateway/
 * never reaches into bot/ or a chat SDK, each third-party package has one home, and only the CLI
 * reads process.env.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const SOURCE_DIRS = ["policies", "gateway", "agents", "bot", "cli"];

function listTs(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(join(ROOT, dir));
  } catch {
    return out;
  }
  for (const name of entries) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...listTs(rel));
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) out.push(rel);
  }
  return out;
}

/** Source without comments, so prose that quotes an import or process.env does not count. */
function code(file: string): string {
  return readFileSync(join(ROOT, file), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "")
    .replace(/\s\/\/ .*$/gm, "");
}

/** Runtime imports only: `import type` lines vanish at compile time and load no package. */
function importsOf(file: string): string[] {
  // Up to the `;`: a long type import spans several lines (agents/pod-spec.ts's from client-node).
  const src = code(file).replace(/^import type [^;]*;/gm, "");
  return [...src.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)].map((m) => m[1] as string);
}

const SDKS = /^(dockerode|grammy|@slack\/bolt|discord\.js|baileys|chat|@chat-adapter\/.*|matrix-js-sdk)$/;

describe("module boundaries", () => {
  it("policies/ imports no I/O modules and no third-party package but zod, yaml and graphql", () => {
    for (const f of listTs("policies")) {
      for (const spec of importsOf(f)) {
        expect(spec, `${f} imports ${spec}`).not.toMatch(/^node:(fs|net|http|https|child_process|dns|tls)/);
        if (!spec.startsWith(".")) expect(["zod", "yaml", "graphql"], `${f} imports ${spec}`).toContain(spec);
      }
    }
  });

  it("gateway/ never imports bot/, agents/ or a chat SDK", () => {
    for (const f of listTs("gateway")) {
      for (const spec of importsOf(f)) {
        expect(spec, `${f} imports ${spec}`).not.toMatch(/^\.\.\/(bot|agents)\//);
        expect(spec, `${f} imports ${spec}`).not.toMatch(SDKS);
      }
    }
  });

  it("each third-party package is imported by one file (or one folder)", () => {
    const homes = new Map<string, Set<string>>();
    for (const dir of SOURCE_DIRS) {
      for (const f of listTs(dir)) {
        for (const spec of importsOf(f)) {
          if (spec.startsWith(".") || spec.startsWith("node:")) continue;
          const pkg = spec.startsWith("@")
            ? spec.split("/").slice(0, 2).join("/")
            : (spec.split("/")[0] as string);
          const set = homes.get(pkg) ?? new Set();
          set.add(f);
          homes.set(pkg, set);
        }
      }
    }
    // zod is the validation language at every edge (policies, control API): allowed in a few files.
    const SHARED = new Set(["zod"]);
    for (const [pkg, files] of homes) {
      if (SHARED.has(pkg)) continue;
      const folders = new Set([...files].map((f) => f.split("/").slice(0, -1).join("/")));
      expect(files.size === 1 || folders.size === 1, `${pkg} is imported by ${[...files].join(", ")}`).toBe(
        true,
      );
    }
  });

  it("only gateway/inject.ts reveals secret values (ARCHITECTURE invariant 1)", () => {
    for (const dir of SOURCE_DIRS) {
      for (const f of listTs(dir).filter((x) => x !== "gateway/inject.ts")) {
        expect(code(f), `${f} calls reveal()`).not.toMatch(/\.reveal\(\)/);
      }
    }
  });

  it("only the CLI (and the in-container runner's own entry point) reads process.env", () => {
    // agents/runner/main.ts is a separate program's composition root: the container's env is its config.
    const ENTRY_POINTS = new Set(["agents/runner/main.ts"]);
    for (const dir of SOURCE_DIRS.filter((d) => d !== "cli")) {
      for (const f of listTs(dir).filter((x) => !ENTRY_POINTS.has(x))) {
        expect(code(f), f).not.toMatch(/process\.env/);
      }
    }
  });
});
