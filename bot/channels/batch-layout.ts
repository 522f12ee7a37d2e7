/**
 * Shared layout of a batch card (`Card.items`, DESIGN §6) for the channels; no SDK here. Each item
 * is rendered with the single card's own honest renderer (every cut counted), within a share of the
 * platform's limit. An item that cannot get a useful share is drawn compactly: its number, title,
 * status and a sentence saying its details (and buttons) did not fit here, pointing to its full
 * request. "Approve all" still covers it, as it is drawn on the card and counted in its label.
 * Untrusted: every item's text (from the agent, cleaned by bot/cards.ts and flattened here again).
 */
import type { Card, CardItem } from "../channel.js";
import { bodyText, type CardTextOptions, fitText, oneLine, renderCard } from "./text.js";

/** An item as a single card (no buttons: the channel lays out item buttons itself). */
export function itemCard(item: CardItem, withButtons = false): Card {
  return {
    title: item.title,
    lines: item.lines,
    agentSays: item.agentSays,
    ...(item.agentSaysHidden ? { agentSaysHidden: item.agentSaysHidden } : {}),
    body: item.body ?? null,
    link: item.link ?? null,
    status: item.status,
    buttons: withButtons ? item.buttons : [],
  };
}

/** The batch's own part (title, lines, status) as a card without body, reason or link. */
export function headCard(card: Card): Card {
  return {
    title: card.title,
    lines: card.lines,
    agentSays: null,
    body: null,
    link: null,
    status: card.status,
    buttons: [],
  };
}

/** One line for an item that did not fit: says so, and where to read (and decide) it. */
export function compactItem(item: CardItem, max = 400): string {
  const gist = `${item.title} — ${item.status}`;
  if (item.buttons.length === 0 && item.lines.length === 0) return oneLine(gist, max);
  const tail = `. Not shown in full here (no buttons): see ${item.link ?? "the web chat"}`;
  return oneLine(gist, Math.max(30, max - tail.length)) + tail;
}

/** The length for compact lines when `count` of them must share `room` (bounded to 120–300). */
export const compactMax = (room: number, count: number): number =>
  Math.max(120, Math.min(300, Math.floor(room / Math.max(1, count)) - 2));

/** How many leading items get a full rendering of `share` characters within `room`. */
export function fullItems(count: number, room: number, minShare: number, compactSize: number): number {
  for (let k = count; k > 0; k--) if (k * minShare + (count - k) * compactSize <= room) return k;
  return 0;
}

/** Where an item's body and link sit in the whole text (for Telegram entities). */
export interface Span {
  readonly kind: "body" | "link";
  readonly offset: number;
  readonly length: number;
}

/**
 * The batch card as text of at most `limit` characters: the head, then each item (full, or compact
 * once the room runs out), then the batch status. Decided items are short (title and status only).
 */
export function renderBatchText(
  card: Card,
  limit: number,
  opts: CardTextOptions = {},
): { text: string; spans: Span[]; full: number } {
  const items = card.items ?? [];
  const head = renderCard(headCard(card), Math.min(limit, 1500), opts).text;
  const sep = "\n\n";
  const room = limit - head.length - items.length * sep.length - 10;
  const compact = items.map((it) => compactItem(it, compactMax(room, items.length)));
  const compactSize = Math.max(0, ...compact.map((c) => c.length));
  const render = (full: number) => {
    const share = full > 0 ? Math.floor((room - (items.length - full) * compactSize) / full) : 0;
    let text = head;
    const spans: Span[] = [];
    items.forEach((item, i) => {
      text += sep;
      if (i >= full) {
        text += compact[i];
        return;
      }
      let r = renderCard(itemCard(item), share, opts);
      // No room for the body in this share: the body is then counted as not shown, never dropped.
      if (r.text === "" && item.body) {
        const hidden = bodyText(item.body.text).length + item.body.hidden;
        r = renderCard({ ...itemCard(item), body: { text: "", hidden } }, share, opts);
      }
      if (r.text === "") {
        text += compact[i];
        return;
      }
      if (r.body) spans.push({ kind: "body", offset: text.length + r.body.offset, length: r.body.length });
      if (r.link) spans.push({ kind: "link", offset: text.length + r.link.offset, length: r.link.length });
      text += r.text;
    });
    return { text, spans, full };
  };
  const minShare = Math.min(700, Math.max(260, Math.floor(room / Math.max(1, items.length))));
  for (let k = fullItems(items.length, room, minShare, compactSize); k >= 0; k--) {
    const r = render(k);
    if (r.text.length <= limit) return r;
  }
  // Only a card of many long items gets here: an honest cut, never a silent one.
  return { text: fitText(render(0).text, limit), spans: [], full: 0 };
}
