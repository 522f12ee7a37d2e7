/**
 * Text helpers shared by channels (no SDK here): splitting long replies to a platform's limit, cutting
 * text honestly, and a plain-text card rendering for platforms (or fallbacks) without rich layout.
 * Card fields are flattened to one line with bidi controls stripped, so an agent's reason cannot
 * forge a "status" line or reorder what an approver reads; the body preview keeps its line breaks but
 * every body line is prefixed, so no agent-written line can pass for one of ours.
 *
 * Honest cuts (DESIGN §3.1): nothing an approver is shown is cut without saying how many characters
 * are missing. `fitText` is the one place that cuts; it counts what an earlier stage already cut.
 */
import type { Card, CardBody } from "../channel.js";

/** "… 1234 more characters not shown — see the full request", shorter where `max` is small. */
export function notShown(n: number, max = Number.POSITIVE_INFINITY): string {
  if (max >= 120) return `… ${n} more characters not shown — see the full request`;
  if (max >= 48) return `… ${n} more characters not shown`;
  return `… (+${n})`;
}

/**
 * `text`, or as much of it as fits in `max` (as `measure` counts the rendered form: escaping can
 * grow it) followed by `notShown(count)`, `count` including the `hidden` characters cut before.
 */
export function fitText(
  text: string,
  max: number,
  hidden = 0,
  measure: (s: string) => number = (s) => s.length,
): string {
  if (hidden <= 0 && measure(text) <= max) return text;
  const withNotice = (k: number): string => text.slice(0, k) + notShown(hidden + text.length - k, max);
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(withNotice(mid)) <= max) lo = mid;
    else hi = mid - 1;
  }
  // A notice digit more or less can break monotonicity by a character: step back until it fits.
  while (lo > 0 && measure(withNotice(lo)) > max) lo--;
  const code = text.charCodeAt(lo - 1);
  if (lo > 0 && code >= 0xd800 && code <= 0xdbff) lo--; // never half a surrogate pair
  return withNotice(lo);
}

// Bidi controls and marks, and C0 controls other than tab, line feed and carriage return, and DEL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
const CTRL = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

/** One line, no bidi controls: untrusted text cannot forge layout in a card. Cut honestly at `max`. */
export function oneLine(s: string, max = 1000, hidden = 0): string {
  const flat = s.replace(CTRL, "").replace(/\s+/g, " ").trim();
  return fitText(flat, max, hidden);
}

/** Body text with its line breaks, but no bidi or other control characters (tabs become spaces). */
export function bodyText(s: string): string {
  return s.replace(/\r\n?/g, "\n").replace(/\t/g, "  ").replace(CTRL, "");
}

/** `body` cut to at most `max` characters once rendered by `measure`, with the not-shown notice. */
export function fitBody(body: CardBody, max: number, measure?: (s: string) => number): string {
  return fitText(bodyText(body.text), max, body.hidden, measure);
}

/** The grant (or any) button label, or its short form when the platform allows fewer characters. */
export function buttonLabel(b: Card["buttons"][number], max: number): string {
  const label = oneLine(b.label, Number.POSITIVE_INFINITY);
  if (label.length <= max) return label;
  const short = b.shortLabel === undefined ? "" : oneLine(b.shortLabel, Number.POSITIVE_INFINITY);
  // Without a short form the label is cut with its count; the builder always gives one.
  return short !== "" && short.length <= max ? short : oneLine(label, max);
}

const BODY_PREFIX = "│ ";
/** Body lines as shown in plain text: each prefixed, so none can pass for one of our lines. */
export const prefixBody = (s: string): string =>
  s
    .split("\n")
    .map((l) => BODY_PREFIX + l)
    .join("\n");

export interface CardTextOptions {
  /** Prefix every body line (plain text); false where the body sits in a code block (Telegram `pre`). */
  readonly prefixBody?: boolean;
}

/** A rendered card and where its body and link sit (UTF-16 offsets, for Telegram entities). */
export interface CardText {
  readonly text: string;
  readonly body?: { readonly offset: number; readonly length: number };
  readonly link?: { readonly offset: number; readonly length: number };
}

const BODY_LABEL = "Body (as sent, secrets masked):";
const LINK_LABEL = "See the full request: ";

/** Plain-text rendering of a card; the agent's reason is quoted and labelled as its own words. */
export function renderCardText(card: Card, limit: number): string {
  return renderCard(card, limit).text;
}

/**
 * The card as text of at most `limit` characters, and where its body and link are. Lines are cut
 * first to 1000 characters each, then shorter until everything but the body fits; the body gets the
 * room that is left. Every cut says how many characters it hides.
 */
export function renderCard(card: Card, limit: number, opts: CardTextOptions = {}): CardText {
  const prefix = opts.prefixBody ?? true;
  const measureBody = prefix ? (s: string) => prefixBody(s).length : undefined;
  let best: CardText | undefined;
  for (const max of [1000, 500, 250, 120, 60]) {
    const head = [
      oneLine(card.title, Math.min(300, max)),
      card.lines.map((l) => `${oneLine(l.label, 100)}: ${oneLine(l.value, max, l.hidden)}`).join("\n"),
    ];
    const tail: string[] = [];
    if (card.agentSays !== null)
      tail.push(`Agent says (its own words): "${oneLine(card.agentSays, max, card.agentSaysHidden)}"`);
    tail.push(oneLine(card.status, 300));
    const link = card.link ? `${LINK_LABEL}${card.link}` : "";
    if (link) tail.push(link);
    const headText = head.filter((p) => p !== "").join("\n\n");
    const tailText = tail.join("\n\n");
    let bodyPart = "";
    if (card.body && (card.body.text !== "" || card.body.hidden > 0)) {
      const room = limit - headText.length - tailText.length - BODY_LABEL.length - 6;
      if (room < Math.min(120, bodyText(card.body.text).length + 1)) continue;
      const fitted = fitBody(card.body, room, measureBody);
      bodyPart = prefix ? prefixBody(fitted) : fitted;
    }
    const before = bodyPart ? `${headText}\n\n${BODY_LABEL}\n` : headText;
    const text = `${before}${bodyPart}\n\n${tailText}`;
    const result: CardText = {
      text,
      ...(bodyPart ? { body: { offset: before.length, length: bodyPart.length } } : {}),
      ...(link ? { link: { offset: text.length - card.link!.length, length: card.link!.length } } : {}),
    };
    if (text.length <= limit) return result;
    best = result;
  }
  // Only a card of dozens of lines gets here: say what is cut rather than cut silently.
  return { text: fitText((best ?? { text: "" }).text, limit) };
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
