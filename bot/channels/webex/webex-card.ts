/**
 * Approval cards for Webex: an Adaptive Card 1.3 whose `Action.Submit` buttons carry our button data
 * as `{ w: data }` (it comes back as the attachment action's `inputs`), plus the markdown fallback
 * Webex requires for clients that show no cards. The card's words are the honest plain rendering
 * (bot/channels/text.ts: every cut counted, the agent's words labelled); TextBlocks render a
 * markdown subset, so its formatting characters are swapped for same-length lookalikes (counts stay
 * true) and an agent cannot forge bold, links or mentions. The fallback holds the text in a fence it
 * cannot close (markdown-card.ts). A batch card lists every item; per-item buttons are on the full
 * request page, the card's own buttons cover exactly the items drawn.
 */
import type { Card } from "../../channel.js";
import { fenced } from "../markdown-card.js";
import { buttonLabel, oneLine, renderCard } from "../text.js";

export const ADAPTIVE = "application/vnd.microsoft.card.adaptive";
/** Room for the card text (Webex messages stay far below their 28 KB card limit). */
export const WEBEX_CARD_TEXT = 6000;
/** Webex shows long button titles whole (wrapped); the grant label fits, longer ones get the short form. */
const TITLE_MAX = 80;
const MAX_BUTTONS = 5;

const SWAP: Readonly<Record<string, string>> = {
  "*": "∗",
  _: "＿",
  "~": "∼",
  "`": "ˋ",
  "[": "［",
  "]": "］",
  "<": "‹",
  ">": "›",
  "#": "＃",
};
/** Markup characters swapped for lookalikes of the same length. */
export const neutral = (s: string): string => s.replace(/[*_~`[\]<>#]/g, (c) => SWAP[c] ?? c);

/** The card's text within `max` characters, batch items included. */
export function webexCardText(card: Card, max = WEBEX_CARD_TEXT): string {
  const items = card.items ?? [];
  if (items.length === 0) return renderCard(card, max).text;
  const note = `${items.length} requests. Each one's own buttons are on its full request page.`;
  const share = Math.floor((max - note.length - 40) / (items.length + 1));
  const parts = [renderCard({ ...card, items: undefined }, share).text, note];
  for (const [i, it] of items.entries()) parts.push(`${i + 1}. ${renderCard({ ...it }, share).text}`);
  return parts.join("\n\n");
}

/** Paragraphs as TextBlocks (Webex keeps line breaks inside each); markup neutralised. */
const blocks = (text: string) =>
  text
    .split("\n\n")
    .filter((p) => p.trim() !== "")
    .map((p) => ({ type: "TextBlock", text: neutral(p), wrap: true }));

/**
 * The card body: a single card's request body sits in its own monospace block on a tinted
 * container (never mistaken for our lines), the rest as paragraphs; a batch as paragraphs.
 */
function cardBlocks(card: Card): unknown[] {
  if ((card.items ?? []).length > 0) return blocks(webexCardText(card));
  const r = renderCard(card, WEBEX_CARD_TEXT, { prefixBody: false });
  if (!r.body) return blocks(r.text);
  const body = r.text.slice(r.body.offset, r.body.offset + r.body.length);
  return [
    ...blocks(r.text.slice(0, r.body.offset)),
    {
      type: "Container",
      style: "emphasis",
      items: [{ type: "TextBlock", text: neutral(body), wrap: true, fontType: "Monospace" }],
    },
    ...blocks(r.text.slice(r.body.offset + r.body.length)),
  ];
}

/** The message body: markdown fallback + the Adaptive Card (no actions once decided). */
export function webexCard(card: Card): {
  markdown: string;
  attachments: { contentType: string; content: unknown }[];
} {
  const link = card.link && /^https?:\/\//.test(card.link) ? card.link : undefined;
  const actions = [
    ...card.buttons.slice(0, MAX_BUTTONS).map((b) => ({
      type: "Action.Submit",
      title: neutral(buttonLabel(b, TITLE_MAX)),
      data: { w: b.data },
      ...(b.style === "danger"
        ? { style: "destructive" }
        : b.style === "primary"
          ? { style: "positive" }
          : {}),
    })),
    ...(link ? [{ type: "Action.OpenUrl", title: "Full request", url: link }] : []),
  ];
  const content = {
    type: "AdaptiveCard",
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    version: "1.3",
    body: [
      { type: "TextBlock", text: "Warden approval", weight: "Bolder", size: "Medium", wrap: true },
      ...cardBlocks(card),
    ],
    ...(actions.length > 0 ? { actions } : {}),
  };
  const markdown = `**Warden approval request** (open in a Webex app that shows cards)\n\n${fenced(
    oneLine(card.title, 300),
  )}`;
  return { markdown, attachments: [{ contentType: ADAPTIVE, content }] };
}
