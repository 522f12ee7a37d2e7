/**
 * Hash chain for the audit log. Each entry's hash is sha256(prev_hash + canonical JSON of the entry),
 * so editing, reordering or deleting any row breaks every hash after it. Canonical JSON sorts object
 * keys so the same entry always hashes the same, whatever order its fields were built in.
 */
import { createHash } from "node:crypto";

/** Hash of the (empty) chain before the first entry. */
export const GENESIS_HASH = "0".repeat(64);

/** JSON with object keys sorted at every level; `undefined` members are dropped like JSON.stringify. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    if (obj[key] === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(obj[key])}`);
  }
  return `{${parts.join(",")}}`;
}

/** The hash stored with an entry. `seq` and `ts` are part of the hashed entry. */
export function chainHash(prevHash: string, seq: number, ts: number, entry: unknown): string {
  return createHash("sha256").update(prevHash).update(canonicalJson({ seq, ts, entry })).digest("hex");
}
