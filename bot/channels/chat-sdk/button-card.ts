/**
 * Approval cards in the Chat SDK card model for platforms with buttons: WhatsApp Cloud (interactive
 * message, body ≤ 1024 characters, at most 3 buttons of ≤ 20 characters) and Teams (Adaptive Card,
 * `Action.Submit` buttons; TextBlocks render a markdown subset). The card text is the honest plain
 * rendering (bot/channels/text.ts: every cut counted, the agent's words labelled, the full-request
 * link never cut); formatting characters in it are swapped for lookalikes (same length, so the
 * counts stay true) so an agent's words cannot turn bold, strike, link or inject markup. A batch card
 * lists every item; its per-item buttons do not fit, so the text points to the link.
 */
import { Actions, Button, type CardElement, CardText, LinkButton, Card as SdkCard } from "chat";
import type { Card } from "../../channel.js";
import { buttonLabel, oneLine, renderCard } from "../text.js";

/** How one platform's buttons and text fit. */
export interface ButtonCardLimits {
  readonly bodyMax: number;
  readonly maxButtons: number;
  readonly titleMax: number;
  /** Characters the platform's renderer treats as markup, each mapped to a same-length lookalike. */
  readonly swap: Readonly<Record<string, string>>;
  /** A separate button opening the full request (where the platform has link buttons). */
  readonly linkButton: boolean;
  /**
   * The card's serialised size limit in UTF-8 bytes, where the platform counts bytes (Teams): the
   * text is cut shorter (honestly, counted) until the card fits, whatever its characters cost.
   */
  readonly maxBytes?: number;
}

/** WhatsApp's interactive body limit, with room for the adapter's own joins. */
export const WHATSAPP_CARD: ButtonCardLimits = {
  bodyMax: 1000,
  maxButtons: 3,
  titleMax: 20,
  swap: { "*": "∗", _: "＿", "~": "∼", "`": "ˋ" },
  linkButton: false,
};

/**
 * Teams: a message stays well under Bot Framework's 40 KB (UTF-16) limit; Adaptive Card TextBlock
 * markdown (bold, italic, links, code) and HTML-ish angle brackets are neutralised.
 */
export const TEAMS_CARD: ButtonCardLimits = {
  bodyMax: 12_000,
  maxButtons: 5,
  titleMax: 40,
  swap: { "*": "∗", _: "＿", "~": "∼", "`": "ˋ", "[": "［", "]": "］", "<": "‹", ">": "›" },
  linkButton: true,
  // Teams refuses an activity over ~28 KB; the activity wraps the card in ~1 KB of its own.
  maxBytes: 24 * 1024,
};

function neutralWith(swap: Readonly<Record<string, string>>): (s: string) => string {
  const chars = Object.keys(swap)
    .map((c) => `\\${c}`)
    .join("");
  const re = new RegExp(`[${chars}]`, "g");
  return (s) => s.replace(re, (c) => swap[c] ?? c);
}

/** The card's text within `max` characters, batch items included. */
function cardText(card: Card, max: number): string {
  const items = card.items ?? [];
  if (items.length === 0) return renderCard(card, max).text;
  const note = `${items.length} requests. Each one's own buttons are on the full request page.`;
  const share = Math.floor((max - note.length - 40) / (items.length + 1));
  const parts = [renderCard({ ...card, items: undefined }, share).text, note];
  for (const [i, it] of items.entries()) parts.push(`${i + 1}. ${renderCard({ ...it }, share).text}`);
  return parts.join("\n\n");
}

export function buttonCard(card: Card, limits: ButtonCardLimits = WHATSAPP_CARD): CardElement {
  for (let max = limits.bodyMax; ; max = Math.floor(max * 0.75)) {
    const el = buttonCardWithin(card, limits, max);
    // A quote or a 3-byte character costs more than one: shrink until the bytes fit.
    if (!limits.maxBytes || max < 400 || Buffer.byteLength(JSON.stringify(el)) <= limits.maxBytes) return el;
  }
}

function buttonCardWithin(card: Card, limits: ButtonCardLimits, bodyMax: number): CardElement {
  const neutral = neutralWith(limits.swap);
  const buttons = card.buttons.slice(0, limits.maxButtons);
  const text = neutral(cardText(card, bodyMax));
  // Only an http(s) link becomes a button: anything else stays the plain text it already is.
  const link = limits.linkButton && card.link && /^https?:\/\//.test(card.link) ? card.link : undefined;
  const actions = [
    ...buttons.map((b) =>
      Button({
        id: "w",
        label: neutral(buttonLabel(b, limits.titleMax)),
        value: b.data,
        style: b.style === "danger" ? "danger" : b.style === "primary" ? "primary" : undefined,
      }),
    ),
    ...(link ? [LinkButton({ url: link, label: "Full request" })] : []),
  ];
  return SdkCard({
    title: "Warden approval",
    children: [CardText(text), ...(actions.length > 0 ? [Actions(actions)] : [])],
  });
}

/** The follow-up once a card is decided (WhatsApp Cloud cannot edit the card itself). */
export function decidedText(card: Card): string {
  return neutralWith(WHATSAPP_CARD.swap)(`${oneLine(card.title, 300)}\n${oneLine(card.status, 300)}`);
}
