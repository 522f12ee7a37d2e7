/**
 * Approval cards (and plain texts) as Matrix `m.notice` content, and the reactions that answer them.
 * Matrix has no buttons: the bot seeds ✅ (approve), ❌ (deny) and, where a time-limited approval is
 * offered, ⏱️ (grant) as reactions on the card; a person's reaction with one of those keys on that
 * very card is the tap (matrix-channel.ts checks which card, who, and that it came through /sync).
 *
 * Untrusted: every card value (the agent's reason, URLs, bodies) and an agent's texts. Rendering:
 * the card's text (bot/channels/text.ts: every cut counted, the agent's words labelled) goes into the
 * HTML `formatted_body` inside one `<pre><code>` block, HTML-escaped, so nothing in it renders as
 * markup, becomes a link, a pill or a URL preview (Element neither linkifies nor previews inside
 * code); our own words (heading, the full-request link, the prompt) are the only markup. Every event
 * carries an empty `m.mentions`, which switches off the legacy body-text mention rules (`@room`,
 * display names) on servers that support intentional mentions; `@room` is broken up for older ones.
 */
import { parseBatchAction } from "../../batch-cards.js";
import { parseCardAction } from "../../cards.js";
import type { Card } from "../../channel.js";
import { agentLabel, tidyAgentText } from "../agent-voice.js";
import { renderBatchText } from "../batch-layout.js";
import { type CardText, oneLine, renderCard } from "../text.js";

export type Verb = "approve" | "deny" | "grant";

/** The reaction key the bot seeds for each verb. */
export const KEYS: Record<Verb, string> = { approve: "✅", deny: "❌", grant: "⏱️" };

/** A reaction key as a verb; variation selectors are ignored (clients differ in sending U+FE0F). */
export function verbOfKey(key: string): Verb | undefined {
  const k = key.replace(/\uFE0F/g, "");
  for (const [verb, seeded] of Object.entries(KEYS) as [Verb, string][])
    if (seeded.replace(/\uFE0F/g, "") === k) return verb;
  return undefined;
}

/** The verbs a card's buttons offer, in order ("Approve all" / "Deny all" on a batch card). */
export function offeredVerbs(card: Card): Verb[] {
  const verbs: Verb[] = [];
  for (const b of card.buttons) {
    const action = parseCardAction(b.data)?.action ?? parseBatchAction(b.data)?.action;
    if (action && !verbs.includes(action)) verbs.push(action);
  }
  return verbs;
}

/** An event's message content: the notice, its HTML, and no mentions. */
export interface NoticeContent {
  readonly msgtype: "m.notice";
  readonly body: string;
  readonly format: "org.matrix.custom.html";
  readonly formatted_body: string;
  readonly "m.mentions": Record<string, never>;
}

/** Matrix caps an event at 65 536 bytes of JSON; edits carry the content twice. */
const EVENT_BUDGET = 28_000;

export const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

/** `@room` cannot notify the room from our text (a word joiner after the @). */
export const noRoomPing = (s: string): string => s.replace(/@room/gi, (m) => `@\u2060${m.slice(1)}`);

function prompt(card: Card, verbs: readonly Verb[], batch: boolean): string {
  if (verbs.length === 0) return "";
  const parts = verbs
    .filter((v) => v !== "grant")
    .map((v) => `${KEYS[v]} to ${v === "approve" && batch ? "approve all listed" : v}`);
  const grant = card.buttons.find((b) => parseCardAction(b.data)?.action === "grant");
  if (grant) parts.push(`${KEYS.grant} "grant" for ${oneLine(grant.label, 400)}`);
  return `Decide by reacting to this message: ${parts.join(" · ")}.`;
}

function content(plain: string, html: string): NoticeContent {
  return {
    msgtype: "m.notice",
    body: noRoomPing(plain),
    format: "org.matrix.custom.html",
    formatted_body: noRoomPing(html),
    "m.mentions": {},
  };
}

type Spans = readonly { readonly kind: "body" | "link"; readonly offset: number; readonly length: number }[];
const single = (r: CardText): { text: string; spans: Spans } => ({
  text: r.text,
  spans: r.body ? [{ kind: "body", ...r.body }] : [],
});

/** `text` as `<pre>` blocks, each body span a block of its own; all of it escaped. */
function codeBlocks(text: string, spans: Spans): string {
  const parts: string[] = [];
  // Our own text around a body loses the blank lines that set the body apart; a body stays whole.
  const ours = (t: string) => t.replace(/^\n+|\n+$/g, "");
  let at = 0;
  for (const b of spans.filter((x) => x.kind === "body" && x.length > 0)) {
    parts.push(ours(text.slice(at, b.offset)), text.slice(b.offset, b.offset + b.length));
    at = b.offset + b.length;
  }
  parts.push(ours(text.slice(at)));
  return parts
    .filter((p) => p !== "")
    .map((p) => `<pre><code>${escapeHtml(p)}</code></pre>`)
    .join("");
}

const bytes = (c: NoticeContent): number => Buffer.byteLength(JSON.stringify(c), "utf8");

/**
 * The card as notice content within the event budget. The text is rendered (honest cuts) at a
 * falling character limit until its JSON, HTML escapes and all, fits.
 */
export function cardContent(card: Card): NoticeContent {
  const batch = (card.items?.length ?? 0) > 0;
  const ask = prompt(card, offeredVerbs(card), batch);
  let last: NoticeContent | undefined;
  for (const limit of [16_000, 8000, 4000, 2000, 1000]) {
    // In HTML each body sits in a code block of its own, lines unprefixed (the prefix is for the
    // plain-text fallback, where nothing else sets a body apart from our lines).
    const shown = batch
      ? renderBatchText(card, limit, { prefixBody: false })
      : single(renderCard({ ...card, link: null }, limit, { prefixBody: false }));
    const whole = batch ? renderBatchText(card, limit).text : renderCard(card, limit).text;
    const link = !batch && card.link ? card.link : undefined;
    const html = [
      "<p><strong>Warden: approval request</strong></p>",
      codeBlocks(shown.text, shown.spans),
      link ? `<p>See the full request: <a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p>` : "",
      ask ? `<p>${escapeHtml(ask)}</p>` : "",
    ].join("");
    last = content([whole, ask].filter((p) => p !== "").join("\n\n"), html);
    if (bytes(last) <= EVENT_BUDGET) return last;
  }
  return last as NoticeContent;
}

/**
 * Text as notice content: Warden's own words as they are, an agent's (`agent` set) under its name,
 * the words themselves in a code block like card values (untrusted, never markup).
 */
export function textContent(text: string, agent?: string): NoticeContent {
  if (agent === undefined) return content(text, `<p>${escapeHtml(text).replace(/\n/g, "<br>")}</p>`);
  const label = agentLabel(agent);
  const words = tidyAgentText(text);
  return content(
    `${label}\n${words}`,
    `<p><em>${escapeHtml(label)}</em></p><pre><code>${escapeHtml(words)}</code></pre>`,
  );
}

/** The most characters of text one notice carries (escaping can grow it up to six times). */
export const TEXT_LIMIT = 4000;

/** The edit event replacing `eventId`'s content (the `* ` fallback is what old clients show). */
export function editContent(eventId: string, next: NoticeContent): Record<string, unknown> {
  return {
    msgtype: next.msgtype,
    body: `* ${next.body}`,
    format: next.format,
    formatted_body: `* ${next.formatted_body}`,
    "m.mentions": {},
    "m.new_content": next,
    "m.relates_to": { rel_type: "m.replace", event_id: eventId },
  };
}
