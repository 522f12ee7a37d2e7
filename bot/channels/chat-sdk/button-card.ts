/**
 * Approval cards in the Chat SDK card model for platforms with reply buttons (WhatsApp Cloud:
 * interactive message, body ≤ 1024 characters, at most 3 buttons of ≤ 20 characters). The card text
 * is the honest plain rendering (bot/channels/text.ts: every cut counted, the agent's words labelled,
 * the full-request link never cut); WhatsApp formatting characters in it are swapped for lookalikes
 * (same length, so the counts stay true) so an agent's words cannot turn bold or strike anything.
 * A batch card lists every item; its per-item buttons do not fit, so the text points to the link.
 */
import { Actions, Button, Card as SdkCard, CardText, type CardElement } from "chat";
import type { Card } from "../../channel.js";
import { buttonLabel, oneLine, renderCard } from "../text.js";

/** WhatsApp's interactive body limit, with room for the adapter's own joins. */
const BODY_MAX = 1000;
const MAX_BUTTONS = 3;
const TITLE_MAX = 20;

const neutral = (s: string): string =>
  s.replace(/[*_~`]/g, (c) => ({ "*": "∗", _: "＿", "~": "∼", "`": "ˋ" })[c] ?? c);

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

export function buttonCard(card: Card): CardElement {
  const buttons = card.buttons.slice(0, MAX_BUTTONS);
  const text = neutral(cardText(card, BODY_MAX));
  return SdkCard({
    title: "Warden approval",
    children: [
      CardText(text),
      ...(buttons.length > 0
        ? [
            Actions(
              buttons.map((b) =>
                Button({
                  id: "w",
                  label: buttonLabel(b, TITLE_MAX),
                  value: b.data,
                  style: b.style === "danger" ? "danger" : b.style === "primary" ? "primary" : undefined,
                }),
              ),
            ),
          ]
        : []),
    ],
  });
}

/** The follow-up once a card is decided (WhatsApp Cloud cannot edit the card itself). */
export function decidedText(card: Card): string {
  return neutral(`${oneLine(card.title, 300)}\n${oneLine(card.status, 300)}`);
}
