/**
 * The chat side of policy replay (`/policy test NAME --replay 24h`, and the replay `/policy edit`
 * runs before saving): the summary text, and the edits held back until their author confirms.
 *
 * Untrusted: every example's agent name, method and URL (written by an agent, via the audit). They
 * are flattened to one line without control or bidi characters and cut honestly, so no audited
 * path can forge a line of the summary ("0 decisions would change"). Channels escape markup.
 */
import type { ReplayResult } from "../../gateway/index.js";
import type { BotDeps } from "./command.js";
import { oneLine } from "../channels/text.js";

/** The window `/policy edit` replays before saving. */
export const EDIT_REPLAY_WINDOW = "24h";
/** How long an edit waits for `/policy save NAME`. */
export const DRAFT_TTL_MS = 15 * 60_000;
/** Examples shown per transition in chat (the console shows more). */
const CHAT_EXAMPLES = 3;

/** Agent-written text as one inert line: no C0/C1 controls (terminal escapes), no bidi, cut honestly. */
function inert(s: string, max: number): string {
  return oneLine(s.replace(/[\u0080-\u009f]/g, ""), max);
}

export interface FormatReplayOptions {
  /** The summary's opening words (default "Replay of NAME"). */
  readonly label?: string;
  /** Examples shown per transition (default 3, for chat). */
  readonly examples?: number;
}

/** A human summary of a replay: counts per transition with a few examples each, then what could not be replayed. */
export function formatReplay(r: ReplayResult, opts: FormatReplayOptions = {}): string {
  const label = opts.label ?? `Replay of ${r.policy}`;
  const shown = opts.examples ?? CHAT_EXAMPLES;
  const lines = [
    `${label} over the last ${r.window}: ${r.total} request${r.total === 1 ? "" : "s"} audited, ` +
      `${r.changed} decision${r.changed === 1 ? "" : "s"} would change, ${r.unchanged} unchanged.`,
  ];
  if (r.truncated) lines.push("(Only the newest requests of the window were replayed.)");
  for (const t of r.transitions) {
    if (t.count === 0) continue;
    lines.push(`${t.from} → ${t.to}: ${t.count}`);
    const examples = shown > 0 ? t.examples.slice(-shown) : [];
    for (const e of examples)
      lines.push(
        `  • ${inert(e.method, 16)} ${inert(e.url, 160)} (agent ${inert(e.agent, 40)}; ` +
          `${inert(e.fromRule, 80)} → ${inert(e.toRule, 80)})`,
      );
    if (t.count > examples.length) lines.push(`  … and ${t.count - examples.length} more`);
  }
  if (r.otherRule > 0) lines.push(`${r.otherRule} keep their verdict but would be decided by another rule.`);
  const c = r.cannotReplay;
  if (c.count > 0) {
    const why = [
      c.reasons.body > 0 && `${c.reasons.body} depend on the request body, which the audit does not keep`,
      c.reasons.no_decision > 0 &&
        `${c.reasons.no_decision} were refused before or beside the policy (no recorded decision)`,
      c.reasons.tunnel > 0 && `${c.reasons.tunnel} were refused tunnels (their requests were never seen)`,
    ].filter(Boolean);
    lines.push(`Cannot replay ${c.count}: ${why.join("; ")}.`);
  }
  return lines.join("\n");
}

interface Draft {
  readonly yaml: string;
  readonly at: number;
}

// Per bot (its deps), so two bots in one process (tests) never see each other's drafts.
const drafts = new WeakMap<BotDeps, Map<string, Draft>>();
const key = (who: string, policy: string): string => `${who}\u0000${policy}`;

/** Holds `yaml` as `who`'s pending edit of `policy` (replacing an earlier one). */
export function holdDraft(deps: BotDeps, who: string, policy: string, yaml: string): void {
  let mine = drafts.get(deps);
  if (!mine) {
    mine = new Map();
    drafts.set(deps, mine);
  }
  const now = deps.now();
  for (const [k, d] of mine) if (now - d.at > DRAFT_TTL_MS) mine.delete(k);
  mine.set(key(who, policy), { yaml, at: now });
}

/** Takes `who`'s pending edit of `policy`, if it has not expired; it is gone afterwards. */
export function takeDraft(deps: BotDeps, who: string, policy: string): string | undefined {
  const mine = drafts.get(deps);
  const d = mine?.get(key(who, policy));
  mine?.delete(key(who, policy));
  if (!d || deps.now() - d.at > DRAFT_TTL_MS) return undefined;
  return d.yaml;
}
