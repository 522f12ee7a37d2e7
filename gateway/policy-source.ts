/**
 * Keeps the policy set in force. Reads every *.yaml/*.yml of the policies directory, compiles them
 * together, and swaps the set only when all of it is valid: a broken edit never replaces (or
 * partially replaces) the policies that were working. Reloads on file changes and on demand.
 */
import { type FSWatcher, watch } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { compilePolicies, type PolicyIssue, type PolicySet } from "../policies/index.js";
import type { Log } from "./log.js";

export type ReloadResult = { ok: true; policies: number } | { ok: false; issues: readonly PolicyIssue[] };

/** Reads and compiles a directory of policy files without touching the set in force. */
export async function readPolicyDir(dir: string): Promise<ReloadResult & { set?: PolicySet }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch (err) {
    return {
      ok: false,
      issues: [{ file: dir, message: `cannot read policies directory: ${(err as Error).message}` }],
    };
  }
  const files = await Promise.all(
    names.map(async (n) => ({ file: n, text: await readFile(join(dir, n), "utf8") })),
  );
  const result = compilePolicies(files);
  if (!result.ok) return { ok: false, issues: result.issues };
  return { ok: true, policies: result.set.policies.length, set: result.set };
}

/** The live policy set of one directory. `start()` throws if the initial set is invalid. */
export function createPolicySource(dir: string, log: Log) {
  let current: PolicySet | undefined;
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function reload(): Promise<ReloadResult> {
    const r = await readPolicyDir(dir);
    if (r.ok && r.set) {
      current = r.set;
      log("policies_loaded", { dir, policies: r.policies });
      return { ok: true, policies: r.policies };
    }
    const issues = r.ok ? [] : r.issues;
    log("policies_rejected", { dir, issues, kept: current !== undefined });
    return { ok: false, issues };
  }

  return {
    get set(): PolicySet {
      if (!current) throw new Error("policies not loaded");
      return current;
    },
    reload,
    async start(): Promise<ReloadResult> {
      const r = await reload();
      if (!r.ok) return r;
      // Editors write files in several steps; wait for the burst to settle before reading.
      watcher = watch(dir, () => {
        clearTimeout(timer);
        timer = setTimeout(() => void reload(), 150);
      });
      watcher.on("error", (err) => log("policies_watch_error", { message: err.message }));
      return r;
    },
    stop(): void {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}

export type PolicySource = ReturnType<typeof createPolicySource>;
