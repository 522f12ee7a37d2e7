/**
 * Approval cards as markdown for the button-less Chat SDK platforms (GitHub, Linear): the card's
 * text (bot/channels/text.ts renderCard: every cut counted, the agent's words labelled) sits in a
 * fenced code block, so nothing an agent or upstream wrote can render as markdown, forge a bold
 * "Approved", a link or an @-mention that notifies someone; the fence is longer than any backtick run
 * inside it, so the text cannot close it. Our own words (the prompt with the approval code) are the
 * only markdown outside. Batch cards list every item, each with its own code.
 */
import type { Card, CardItem } from "../channel.js";
import { type CodeVerb, verbOfData } from "./approval-codes.js";
import { oneLine, renderCard, splitText } from "./text.js";

/** The fence for `text`: backticks, one more than its longest run (at least three). */
export function fenced(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}text\n${text}\n${fence}`;
}

/** "Reply `/approve k3f9x2` or `/deny k3f9x2` to decide." for the verbs the buttons offer. */
function prompt(buttons: Card["buttons"], code: string): string {
  const verbs: CodeVerb[] = [];
  for (const b of buttons) {
    const v = verbOfData(b.data);
    if (v && !verbs.includes(v)) verbs.push(v);
  }
  const main = verbs.filter((v) => v !== "grant").map((v) => `\`/${v} ${code}\``);
  if (verbs.length === 0) return "";
  let text = main.length > 0 ? `Reply ${main.join(" or ")} to decide.` : "";
  const grant = buttons.find((b) => verbOfData(b.data) === "grant");
  // The grant label says what it covers (`PUT /repos/*/*/pulls/*/merge`): shown whole, as code, so
  // its wildcards stay visible and render nothing; flattened and without backticks it cannot break out.
  if (grant) text += ` Reply \`/grant ${code}\` for \`${oneLine(grant.label, 300).replace(/`/g, "ˋ")}\`.`;
  return text.trim();
}

const asCard = (item: CardItem): Card => ({ ...item });

/**
 * The card as markdown of at most `limit` characters. `codes[0]` is the card's, `codes[i + 1]` item
 * i's. The prompt is never cut; the card text gets the room left.
 */
export function renderMarkdownCard(card: Card, codes: readonly string[], limit: number): string {
  const items = card.items ?? [];
  const header = "**Warden: approval request**";
  if (items.length === 0) {
    const ask = prompt(card.buttons, codes[0] ?? "");
    const room = limit - header.length - ask.length - 40;
    const text = renderCard(card, room).text;
    return [header, fenced(text), ask].filter((p) => p !== "").join("\n\n");
  }
  // A batch: the card's own lines and its "all" prompt, then each item in full with its own code.
  const asks = items.map((it, i) => prompt(it.buttons, codes[i + 1] ?? ""));
  const allAsk = prompt(card.buttons, codes[0] ?? "");
  const fixed = header.length + allAsk.length + asks.reduce((n, a) => n + a.length + 60, 0) + 40;
  const each = Math.max(400, Math.floor((limit - fixed) / (items.length + 1)));
  const parts = [header, fenced(renderCard({ ...card, items: undefined }, each).text), allAsk];
  items.forEach((it, i) => {
    parts.push(
      `**Request ${i + 1} of ${items.length}**`,
      fenced(renderCard(asCard(it), each).text),
      asks[i] ?? "",
    );
  });
  return parts.filter((p) => p !== "").join("\n\n");
}

/**
 * Plain text (the agent's words, the bot's replies with people's names in them) as markdown that
 * renders nothing: one fenced block per part of at most `limit` characters, fence included. A part
 * whose backtick runs make the fence too long is split again, smaller, until it fits.
 */
export function plainMarkdownParts(text: string, limit: number): string[] {
  const out: string[] = [];
  const pack = (part: string, room: number): void => {
    const md = fenced(part);
    if (md.length <= limit || room < 8) return void out.push(md);
    for (const p of splitText(part, Math.floor(room / 3))) pack(p, Math.floor(room / 3));
  };
  for (const part of splitText(text, limit - 20)) pack(part, limit - 20);
  return out;
}

/** Undoes the fences: what a person reads (tests). */
export function readMarkdownCard(md: string): string {
  return md.replace(/(`{3,})text\n([\s\S]*?)\n\1/g, "$2");
}
