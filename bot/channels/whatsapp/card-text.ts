/**
 * Approval cards as WhatsApp text, and the gestures that answer them. WhatsApp Web has no buttons:
 * the card ends with a prompt ("Reply "approve" or "deny" to this message, or react 👍 / 👎") and a
 * quoted reply or reaction on the card is the tap.
 *
 * WhatsApp has formatting (`*bold*`, `_italic_`, `~strike~`, ``` ```mono``` ```, `> quote`) and no
 * way to escape it. Every untrusted value (agent name, URL, the agent's reason, names in the status)
 * is flattened to one line with bidi controls stripped (oneLine), then shown inside ```monospace```,
 * where WhatsApp applies no other formatting; backticks inside a value are replaced by `ˋ` so the
 * value cannot close the block. Our own structure is the only *bold* text (the status line), so an
 * agent's reason cannot forge a bold "Approved" line or a fake prompt. The body preview keeps its
 * line breaks inside its own ``` block (backtick runs split with a zero-width space, so it cannot be
 * closed early). Every cut says how many characters it hides; the card links to the full request.
 */
import { parseBatchAction } from "../../batch-cards.js";
import { parseCardAction } from "../../cards.js";
import type { Card } from "../../channel.js";
import { compactMax, fullItems, itemCard } from "../batch-layout.js";
import { bodyText, fitBody, notShown, oneLine } from "../text.js";

export type Verb = "approve" | "deny" | "grant";

/** Inside ```…```, a value cannot break out or be formatted. */
function mono(s: string, max = 1000, hidden = 0): string {
  const flat = oneLine(s, max, hidden).replace(/`/g, "ˋ");
  return flat === "" ? "-" : `\`\`\`${flat}\`\`\``;
}

/** Our own words (labels, status): formatting characters are swapped for lookalikes. */
function plain(s: string, max = 200): string {
  return oneLine(s, max).replace(/[*_~`]/g, (c) => ({ "*": "∗", _: "＿", "~": "∼", "`": "ˋ" })[c] ?? c);
}

/** The verbs a card's buttons offer, in order; unknown button data offers nothing. */
export function offeredVerbs(card: Card): Verb[] {
  const verbs: Verb[] = [];
  for (const b of card.buttons) {
    // A batch card's "Approve all" / "Deny all": a gesture on it covers the items it shows.
    const action = parseCardAction(b.data)?.action ?? parseBatchAction(b.data)?.action;
    if (action && !verbs.includes(action)) verbs.push(action);
  }
  return verbs;
}

function prompt(card: Card, verbs: readonly Verb[]): string {
  if (verbs.length === 0) return "";
  const words = verbs.filter((v) => v !== "grant").map((v) => `"${v}"`);
  const emoji = [verbs.includes("approve") ? "👍" : "", verbs.includes("deny") ? "👎" : ""].filter(Boolean);
  let text = `Reply ${words.join(" or ")} to this message`;
  if (words.length === 0) text = "Reply to this message with";
  if (emoji.length > 0) text += `, or react ${emoji.join(" / ")}`;
  const grant = card.buttons.find((b) => parseCardAction(b.data)?.action === "grant");
  if (grant) text += `${words.length ? ". Reply" : ""} "grant" for ${plain(grant.label, 400)}`;
  return `${text}.`;
}

const BODY_HEAD = "Body (as sent, secrets masked):\n```";
const fence = (t: string): string => t.replace(/`/g, "`\u200b");

/**
 * The card as one WhatsApp message of at most `limit` characters; the status, link and prompt are
 * never cut. Values are cut to 1000 characters, then shorter until the rest fits; the body gets the
 * room left. Every cut says how many characters it hides.
 */
export function renderWhatsAppCard(card: Card, limit: number): string {
  if (card.items && card.items.length > 0) return renderBatch(card, limit);
  const tail = [`*${plain(card.status)}*`];
  if (card.link) tail.push(`See the full request: ${card.link}`);
  tail.push(prompt(card, offeredVerbs(card)));
  const end = `\n\n${tail.filter((p) => p !== "").join("\n")}`;
  let last = "";
  for (const max of [1000, 500, 250, 120, 60]) {
    const lines = card.lines.map((l) => `${plain(l.label, 100)}: ${mono(l.value, max, l.hidden)}`);
    const parts = [`🔐 ${mono(card.title, 300)}`, lines.join("\n")];
    if (card.agentSays !== null)
      parts.push(
        `Agent says (its own words, not verified): ${mono(card.agentSays, max, card.agentSaysHidden)}`,
      );
    let head = parts.filter((p) => p !== "").join("\n\n");
    if (card.body && (card.body.text !== "" || card.body.hidden > 0)) {
      const room = limit - head.length - end.length - BODY_HEAD.length - 5;
      if (room < 120) {
        last = `${head}\n\nBody: ${notShown(bodyText(card.body.text).length + card.body.hidden)}`;
        continue;
      }
      head += `\n\n${BODY_HEAD}${fence(fitBody(card.body, room, (t) => fence(t).length))}\`\`\``;
    }
    if (head.length + end.length <= limit) return head + end;
    last = head;
  }
  return `🔐 ${mono(card.title, 300)}\n\n${notShown(Math.max(0, last.length))}${end}`;
}

/**
 * A batch card: the head, each item as its own card text (no prompt: items have no gestures of
 * their own here) within a share of the limit, compact once the room runs out, then the prompt,
 * which decides every item listed.
 */
function renderBatch(card: Card, limit: number): string {
  const items = card.items ?? [];
  const lines = card.lines.map((l) => `${plain(l.label, 100)}: ${mono(l.value, 300, l.hidden)}`);
  const head = `🔐 ${mono(card.title, 300)}\n${lines.join("\n")}`;
  const verbs = offeredVerbs(card);
  const ask =
    verbs.length > 0 ? `${prompt(card, verbs).replace(/\.$/, "")}: it decides every request listed.` : "";
  const end = `\n\n*${plain(card.status)}*${ask ? `\n${ask}` : ""}`;
  const room = limit - head.length - end.length - items.length * 2;
  const lineMax = compactMax(room, items.length);
  const compact = items.map((it) => {
    const tail = it.lines.length === 0 ? "" : `\nNot shown in full here: ${it.link ?? "see the web chat"}`;
    return `${mono(`${it.title} — ${it.status}`, Math.max(30, lineMax - tail.length - 6))}${tail}`;
  });
  const compactSize = Math.max(0, ...compact.map((c) => c.length));
  const minShare = Math.min(900, Math.max(300, Math.floor(room / items.length)));
  for (let k = fullItems(items.length, room, minShare, compactSize); k >= 0; k--) {
    const share = k > 0 ? Math.floor((room - (items.length - k) * compactSize) / k) : 0;
    const parts = items.map((it, i) => (i < k ? renderWhatsAppCard(itemCard(it), share) : compact[i]));
    const text = `${head}\n\n${parts.join("\n\n")}${end}`;
    if (text.length <= limit) return text;
  }
  // Unreachable with MAX_BATCH_ITEMS; without a prompt, so nobody decides what they cannot read.
  return `${head}\n\n${items.length} requests did not fit in one WhatsApp message: see the web chat.\n\n*${plain(card.status)}*`;
}

/** A short line about a decided card, sent quoting it when the card itself can no longer be edited. */
export function decidedText(card: Card): string {
  return `Decided: *${plain(card.status)}*. Replies to this card no longer count.`;
}

const THUMBS_UP = /^\u{1F44D}[\u{1F3FB}-\u{1F3FF}]?\u{FE0F}?$/u;
const THUMBS_DOWN = /^\u{1F44E}[\u{1F3FB}-\u{1F3FF}]?\u{FE0F}?$/u;

/** A reply's text as a verb: approve/yes/👍, deny/no/👎, grant; case and one final . or ! ignored. */
export function verbOfReply(text: string): Verb | undefined {
  const t = text.trim().toLowerCase().replace(/[.!]$/, "").trim();
  if (t === "approve" || t === "yes" || THUMBS_UP.test(t)) return "approve";
  if (t === "deny" || t === "no" || THUMBS_DOWN.test(t)) return "deny";
  return t === "grant" ? "grant" : undefined;
}

/** A reaction as a verb: 👍 (any skin tone) approves, 👎 denies; anything else (or removal) is nothing. */
export function verbOfReaction(emoji: string | null | undefined): Verb | undefined {
  if (!emoji) return undefined;
  if (THUMBS_UP.test(emoji)) return "approve";
  return THUMBS_DOWN.test(emoji) ? "deny" : undefined;
}
