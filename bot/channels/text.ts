/**
 * Text helpers shared by channels (no SDK here): splitting long replies to a platform's limit and
 * a plain-text card rendering for platforms (or fallbacks) without rich layout. Card fields are
 * flattened to one line with bidi controls stripped, so an agent's reason cannot forge a "status"
 * line or reorder what an approver reads.
 */
import type { Card } from "../channel.js";

/** One line, no bidi controls: untrusted text cannot forge layout in a card. */
export function oneLine(s: string, max = 1000): string {
  const flat = s
    .replace(/[\u202A-\u202E\u2066-\u2069\u200E\u200F]/g, "")
    .replace(/\s+/g, " ")
    .trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Plain-text rendering of a card; the agent's reason is quoted and labelled as its own words. */
export function renderCardText(card: Card, limit: number): string {
  const parts = [
    oneLine(card.title),
    card.lines.map((l) => `${oneLine(l.label, 100)}: ${oneLine(l.value)}`).join("\n"),
  ];
  if (card.agentSays !== null) parts.push(`Agent says (its own words): "${oneLine(card.agentSays)}"`);
  parts.push(oneLine(card.status));
  const text = parts.filter((p) => p !== "").join("\n\n");
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

/** Splits at `limit` UTF-16 units, preferring newlines, then spaces; never halves a surrogate pair. */
export function splitText(text: string, limit: number): string[] {
  const chunks: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    let cut = rest.lastIndexOf("\n", limit);
    if (cut < limit / 2) cut = rest.lastIndexOf(" ", limit);
    let skip = 1;
    if (cut < limit / 2) {
      cut = limit;
      skip = 0;
      const code = rest.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut--;
    }
    chunks.push(rest.slice(0, cut));
    rest = rest.slice(cut + skip);
  }
  chunks.push(rest);
  return chunks.filter((c) => c.trim() !== "");
}
