/**
 * A diagnostic beside the invariant: where Node's parser (what the gateway reads with) accepts an
 * agent's bytes that our strict RFC 9112 parser refuses, and whether the gateway then let requests
 * from beyond that point through. Not a violation by itself (the gateway re-frames what it
 * forwards, and the invariant checks the upstream), but it names the leniencies an upstream with a
 * different parser could disagree about. Untrusted: the case bytes and the audit rows.
 */
import type { AuditEntry } from "./check-invariant.js";
import type { FuzzCase } from "./generate.js";
import { llhttpParse } from "./llhttp-parse.js";
import { parseRequestStream } from "./strict-parser.js";

export interface Leniency {
  /** Strict stop reason → how many cases. */
  readonly reasons: Map<string, number>;
  /** Cases where a request the strict parser never reached was audited as allowed. */
  readonly forwarded: { readonly index: number; readonly reason: string; readonly label: string }[];
}

export function leniency(cases: ReadonlyMap<number, FuzzCase>, audit: readonly AuditEntry[]): Leniency {
  const allowed = new Set(
    audit.filter((e) => e.type === "request" && e.verdict === "allow").map((e) => `${e.agent} ${e.path}`),
  );
  const reasons = new Map<string, number>();
  const forwarded: Leniency["forwarded"] = [];
  for (const [index, c] of cases) {
    const strict = parseRequestStream(c.bytes);
    const ll = llhttpParse(c.bytes).requests.filter((r) => r.complete);
    if (!strict.stop || strict.stop.reason === "incomplete message") continue;
    if (ll.length <= strict.requests.length) continue;
    const reason = strict.stop.reason.replace(/"[^"]*"|\[[^\]]*\]|\d+/g, "…");
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    const beyond = ll.slice(strict.requests.length);
    const through = beyond.find((r) =>
      allowed.has(`${c.agent} ${r.target.replace(/^[a-z]+:\/\/[^/]*/i, "")}`),
    );
    if (through) forwarded.push({ index, reason, label: c.labels[strict.requests.length] ?? "(smuggled)" });
  }
  return { reasons, forwarded };
}
