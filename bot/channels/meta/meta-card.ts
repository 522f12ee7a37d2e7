/**
 * Approval cards for Messenger and Instagram as Send API messages. Neither renders markdown, so the
 * card is the honest plain rendering (bot/channels/text.ts: every cut counted, the agent's words
 * labelled, body lines prefixed). Messenger: a button template (text ≤ 640, ≤ 3 postback buttons of
 * ≤ 20 characters); a card longer than 640 goes first as a text message (≤ 2000) and the template
 * then carries the status. Instagram: the card as a text message (≤ 1000), then a generic template
 * (title, subtitle ≤ 80) with the buttons. A postback names no message, so each button's payload is
 * `w1:<code>:<verb>`, the card's approval code (approval-codes.ts), which maps back to the exact card
 * message and the button data drawn on it. Batch cards list every item; the card's own buttons cover
 * exactly the items drawn, each item's own buttons are on its full-request page.
 */
import type { Card } from "../../channel.js";
import { type CodeVerb, verbOfData } from "../approval-codes.js";
import { buttonLabel, fitText, oneLine, renderCard } from "../text.js";

export type MetaPlatform = "messenger" | "instagram";

export interface MetaLimits {
  /** One text message. */
  readonly text: number;
  readonly buttons: number;
  readonly buttonTitle: number;
}
export const MESSENGER: MetaLimits = { text: 2000, buttons: 3, buttonTitle: 20 };
export const INSTAGRAM: MetaLimits = { text: 1000, buttons: 3, buttonTitle: 20 };
/** Instagram's card text goes as up to two messages (its 1000 is too short for an honest card). */
const INSTAGRAM_CARD_TEXT = 2000;
const BUTTON_TEMPLATE_TEXT = 640;
const GENERIC_FIELD = 80;

/** `w1:<code>:<verb>`: what a postback payload may say; anything else is no tap on a card. */
export const payloadOf = (code: string, verb: CodeVerb): string => `w1:${code}:${verb}`;
export function parsePayload(p: string): { code: string; verb: CodeVerb } | undefined {
  const m = /^w1:([a-z0-9]{6}):(approve|deny|grant)$/.exec(p);
  return m?.[1] && m[2] ? { code: m[1], verb: m[2] as CodeVerb } : undefined;
}

/** The card's text within `max`, batch items included. */
export function metaCardText(card: Card, max: number): string {
  const items = card.items ?? [];
  if (items.length === 0) return renderCard(card, max).text;
  const note = `${items.length} requests. Each one's own buttons are on its full request page.`;
  const share = Math.floor((max - note.length - 40) / (items.length + 1));
  const parts = [renderCard({ ...card, items: undefined }, share).text, note];
  for (const [i, it] of items.entries()) parts.push(`${i + 1}. ${renderCard({ ...it }, share).text}`);
  return fitText(parts.join("\n\n"), max);
}

/** A button title of ≤ `max`: the label, its short form, or the short form without its "for …" tail. */
function title(b: Card["buttons"][number], max: number): string {
  const short = b.shortLabel?.replace(/\s+for\s+.*$/, "");
  if (
    short &&
    oneLine(b.label, Infinity).length > max &&
    (b.shortLabel ?? "").length > max &&
    short.length <= max
  )
    return short;
  return buttonLabel(b, max);
}

function postbacks(
  card: Card,
  code: string,
  limits: MetaLimits,
): { type: string; title: string; payload: string }[] {
  const out: { type: string; title: string; payload: string }[] = [];
  for (const b of card.buttons) {
    const verb = verbOfData(b.data);
    if (!verb || out.length >= limits.buttons) continue;
    out.push({ type: "postback", title: title(b, limits.buttonTitle), payload: payloadOf(code, verb) });
  }
  return out;
}

/**
 * Splits at the last line break within `limit` (else hard), keeping every character: the parts
 * joined are the text, so a cut loses nothing the counts do not say.
 */
export function splitKeeping(text: string, limit: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    let cut = rest.lastIndexOf("\n", limit - 1) + 1;
    if (cut < limit / 2) cut = limit;
    const c = rest.charCodeAt(cut - 1);
    if (c >= 0xd800 && c <= 0xdbff) cut--; // never half a surrogate pair
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest !== "") out.push(rest);
  return out;
}

/** Heads a card sent as text (before its buttons). */
export const CARD_HEADER = "Warden approval request";
/** Heads a decision that follows a card. */
export const UPDATE_HEADER = "Update on an approval request:";

/** The messages that make up one card, in order; the last one carries the buttons (the card's ref). */
export function metaCardMessages(
  platform: MetaPlatform,
  card: Card,
  code: string,
): Record<string, unknown>[] {
  const limits = platform === "messenger" ? MESSENGER : INSTAGRAM;
  // Short enough for Messenger's template text (640): the card is the template itself.
  const plain = metaCardText(card, BUTTON_TEMPLATE_TEXT);
  const text =
    platform === "messenger" &&
    plain !== "" &&
    plain.length <= BUTTON_TEMPLATE_TEXT &&
    !/not shown/.test(plain)
      ? plain
      : `${CARD_HEADER}\n\n${metaCardText(card, (platform === "messenger" ? limits.text : INSTAGRAM_CARD_TEXT) - CARD_HEADER.length - 2)}`;
  const buttons = postbacks(card, code, limits);
  const status = oneLine(card.status, 300);
  if (platform === "messenger") {
    const template = (t: string) => ({
      attachment: { type: "template", payload: { template_type: "button", text: t, buttons } },
    });
    if (buttons.length === 0) return [{ text }];
    if (text === plain) return [template(text)];
    return [
      { text },
      template(fitText(`Warden approval (the request is above): ${status}`, BUTTON_TEMPLATE_TEXT)),
    ];
  }
  const parts = splitKeeping(text, limits.text).map((t) => ({ text: t }));
  if (buttons.length === 0) return parts;
  return [
    ...parts,
    {
      attachment: {
        type: "template",
        payload: {
          template_type: "generic",
          elements: [
            {
              title: "Warden approval (the request is above)".slice(0, GENERIC_FIELD),
              subtitle: fitText(status, GENERIC_FIELD),
              buttons,
            },
          ],
        },
      },
    },
  ];
}

/** The decision, as a follow-up (neither platform edits a sent message). */
export const decidedText = (card: Card): string =>
  `${UPDATE_HEADER} ${oneLine(card.title, 300)}\n${oneLine(card.status, 300)}`;
