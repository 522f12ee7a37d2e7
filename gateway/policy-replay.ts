/**
 * Policy replay for the control API (`POST /v1/policies/test` with `replay`) and the bot
 * (`ControlPort.replayPolicy`): compiles a candidate policy set (every file in the directory, with
 * the named policy's file replaced by the edited text, or as it is on disk), reads the audited
 * requests of the window and hands both to the pure `replayAudit` (policies/replay.ts).
 *
 * Untrusted: the edited YAML (validated strictly, like a reload; nothing is written), the window
 * text, and every audited field (agent-written; returned only as data for callers to escape).
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  compilePolicies,
  formatIssues,
  type PolicyIssue,
  type PolicySet,
  type PolicySource,
  parseDuration,
  type ReplayReport,
  type ReplayRow,
  replayAudit,
} from "../policies/index.js";
import type { Store } from "./store.js";

/** The longest window a replay reads (the audit is scanned, not indexed by time). */
export const REPLAY_MAX_WINDOW_MS = 30 * 86_400_000;
/** Request rows replayed at most; older rows of the window are left out and `truncated` says so. */
export const REPLAY_MAX_ROWS = 100_000;
const POLICY_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const PAGE = 5000;

export interface ReplayInput {
  /** The policy whose file the candidate text replaces (a new file `NAME.yaml` when none has it). */
  readonly policy: string;
  /** The edited YAML; absent = the file as it is on disk now (edited but not yet reloaded). */
  readonly yaml?: string;
  /** How far back: a duration like `24h`, `30m`, `7d` (at most 30d). */
  readonly window: string;
  /** Examples per transition (default 5, at most 20). */
  readonly examples?: number;
}

export type ReplayResult = ReplayReport & {
  readonly policy: string;
  readonly window: string;
  /** Epoch ms: the window replayed. */
  readonly since: number;
  readonly until: number;
  /** True when the window held more than `REPLAY_MAX_ROWS` request rows (the newest were replayed). */
  readonly truncated: boolean;
};

export type ReplayOutcome =
  | { readonly ok: true; readonly report: ReplayResult }
  | {
      readonly ok: false;
      readonly status: 400 | 404 | 422;
      /** `bad_window`, `bad_request`, `not_found` (no such policy and no text), `policy_invalid`. */
      readonly code: "bad_window" | "bad_request" | "not_found" | "policy_invalid";
      readonly message: string;
      readonly issues?: readonly PolicyIssue[];
    };

export interface PolicyReplayDeps {
  /** Every policy file as it is now (`readPolicyFiles(dir)`; an in-memory list in tests). */
  readonly files: () => Promise<readonly PolicySource[]>;
  readonly store: Pick<Store, "listAudit">;
  readonly current: () => PolicySet;
  /** Hosts pinned by `--resolve`. */
  readonly pinned?: (host: string) => boolean;
  readonly now?: () => number;
}

/** Creates the replay function over one policies directory and audit. */
export function createPolicyReplay(deps: PolicyReplayDeps): (input: ReplayInput) => Promise<ReplayOutcome> {
  const now = deps.now ?? Date.now;
  return async (input) => {
    const windowMs = parseDuration(input.window);
    if (windowMs === undefined || windowMs > REPLAY_MAX_WINDOW_MS)
      return {
        ok: false,
        status: 400,
        code: "bad_window",
        message: "replay is a duration like 30m, 24h or 7d, at most 30d",
      };
    if (!POLICY_NAME.test(input.policy))
      return {
        ok: false,
        status: 400,
        code: "bad_request",
        message: "policy names are lowercase letters, digits, - and _",
      };
    const examples = Math.min(Math.max(Math.trunc(input.examples ?? 5), 0), 20);
    const set = candidateSet(await deps.files(), deps.current(), input.policy, input.yaml);
    if (!set.ok) return set;
    const until = now();
    const since = until - windowMs;
    const { rows, truncated } = await windowRows(deps.store, since, until);
    const report = replayAudit(rows, set.set, { examples, pinned: deps.pinned });
    return {
      ok: true,
      report: { policy: input.policy, window: input.window, since, until, truncated, ...report },
    };
  };
}

/** The policy files of `dir` (`*.yaml`, `*.yml`), as a reload reads them. */
export async function readPolicyFiles(dir: string): Promise<PolicySource[]> {
  const names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  return Promise.all(names.map(async (n) => ({ file: n, text: await readFile(join(dir, n), "utf8") })));
}

/** Every policy file, with `name`'s file replaced by `yaml` when given, compiled together. */
function candidateSet(
  all: readonly PolicySource[],
  current: PolicySet,
  name: string,
  yaml: string | undefined,
): { ok: true; set: PolicySet } | Extract<ReplayOutcome, { ok: false }> {
  const file = current.policies.find((p) => p.name === name)?.file ?? `${name}.yaml`;
  if (yaml === undefined && !all.some((f) => f.file === file))
    return { ok: false, status: 404, code: "not_found", message: `no policy called ${name}` };
  const files = all.filter((f) => yaml === undefined || f.file !== file);
  const result = compilePolicies(yaml === undefined ? files : [...files, { file, text: yaml }]);
  if (!result.ok)
    return {
      ok: false,
      status: 422,
      code: "policy_invalid",
      message: formatIssues(result.issues),
      issues: result.issues,
    };
  return { ok: true, set: result.set };
}

/**
 * The audit rows of [since, until], paged so one replay never holds the whole audit; the gateway
 * keeps serving between pages. Keeps the newest `REPLAY_MAX_ROWS` request rows.
 */
async function windowRows(
  store: Pick<Store, "listAudit">,
  since: number,
  until: number,
): Promise<{ rows: ReplayRow[]; truncated: boolean }> {
  const rows: ReplayRow[] = [];
  let truncated = false;
  let after = 0;
  for (;;) {
    const page = await store.listAudit(after, PAGE);
    for (const r of page) {
      if (r.ts < since || r.ts > until || r.entry.type !== "request") continue;
      rows.push(r);
    }
    if (rows.length > REPLAY_MAX_ROWS) {
      rows.splice(0, rows.length - REPLAY_MAX_ROWS);
      truncated = true;
    }
    const last = page.at(-1);
    if (page.length < PAGE || last === undefined) break;
    after = last.seq;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { rows, truncated };
}
