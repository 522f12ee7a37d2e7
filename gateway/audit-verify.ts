/**
 * Checks the audit hash chain as stored: every row links to the one before and matches its hash,
 * no seq is missing, and the head record names the last row (deleting the newest rows leaves a valid
 * prefix, which only the head catches). Pure: the stores read the rows, this judges them.
 */
import { chainHash, GENESIS_HASH } from "./audit-chain.js";
import type { AuditVerifyResult } from "./store.js";

interface AuditDbRow {
  readonly seq: number;
  readonly ts: number;
  readonly entry: string;
  readonly prev_hash: string;
  readonly hash: string;
}

/** Walks the whole chain; reports the first row whose link or hash does not hold. */
export function verifyAuditRows(
  rows: readonly AuditDbRow[],
  head: { seq: number; hash: string } | undefined,
): AuditVerifyResult {
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  for (const r of rows) {
    const bad = (problem: string): AuditVerifyResult => ({
      ok: false,
      entries: rows.length,
      badSeq: r.seq,
      problem,
    });
    if (r.seq !== expectedSeq)
      return { ok: false, entries: rows.length, badSeq: expectedSeq, problem: "missing entry" };
    if (r.prev_hash !== prev) return bad("broken link to previous entry");
    let entry: unknown;
    try {
      entry = JSON.parse(r.entry);
    } catch {
      return bad("entry is not JSON");
    }
    if (chainHash(prev, r.seq, r.ts, entry) !== r.hash) return bad("entry does not match its hash");
    prev = r.hash;
    expectedSeq++;
  }
  // Deleting the newest rows leaves a valid prefix: the head record catches that.
  const last = rows.length;
  if (head && (head.seq !== last || head.hash !== prev)) {
    return { ok: false, entries: last, badSeq: last + 1, problem: "entries missing at the end of the log" };
  }
  return { ok: true, entries: last };
}
