/**
 * Block Kit rendering of an approval card (pure; no SDK calls). Everything on a card may come from
 * an agent, so every text object is `plain_text` (never `mrkdwn`: no links, mentions or formatting),
 * escaped, flattened to one line with bidi controls stripped, and cut to Block Kit's limits — every
 * cut saying how many characters it hides. The body preview is a `rich_text_preformatted` element:
 * monospace, line breaks kept, and literal (rich text elements are structure, never parsed as
 * markup). The only `mrkdwn` is our own link to the full request (base URL + approval id). The
 * agent's reason sits in its own context block, labelled as the agent's words, after the facts the
 * gateway vouches for. Buttons carry the bot's opaque data as `value`; each has its own action_id.
 */
import type { Card } from "../../channel.js";
import { compactItem, fullItems, headCard, renderBatchText } from "../batch-layout.js";
import { buttonLabel, fitBody, fitText, oneLine, renderCardText } from "../text.js";
import { escapeSlack, fitLine } from "./slack-text.js";

/** The subset of Block Kit we emit; structurally compatible with Slack's `KnownBlock`. */
export type PlainText = { type: "plain_text"; text: string; emoji: boolean };
export type Button = {
  type: "button";
  action_id: string;
  text: PlainText;
  value: string;
  style?: "primary" | "danger";
};
export type Mrkdwn = { type: "mrkdwn"; text: string };
export type CardBlock =
  | { type: "header"; text: PlainText }
  | {
      type: "rich_text";
      elements: [{ type: "rich_text_preformatted"; elements: [{ type: "text"; text: string }] }];
    }
  | { type: "section"; text?: PlainText; fields?: PlainText[] }
  | { type: "context"; elements: (PlainText | Mrkdwn)[] }
  | { type: "actions"; block_id: string; elements: Button[] };

/** Prefix of every action_id we send; taps on anything else are not ours. */
export const ACTION_PREFIX = "warden_card_";
/** The fallback `text` of a card message (notifications, screen readers, old clients). */
export const FALLBACK_LIMIT = 4000;
const BUTTON_DATA_LIMIT = 64;
const HEADER_LIMIT = 150;
const FIELD_LIMIT = 2000;
const FIELDS_PER_SECTION = 10;
const MAX_BLOCKS = 50;
const BUTTON_LABEL_LIMIT = 75;
/** The body preview: one preformatted block of at most Slack's usual block text limit. */
const BODY_LIMIT = 3000;

const plain = (text: string, max: number, hidden = 0): PlainText => ({
  type: "plain_text",
  text: fitLine(text, max, hidden) || " ",
  emoji: false, // ":emoji:" codes an agent typed are shown literally
});

/** Block Kit blocks and the plain fallback text for `card`; throws on button data over 64 bytes. */
export function cardMessage(card: Card): { text: string; blocks: CardBlock[] } {
  if (card.items && card.items.length > 0) return batchMessage(card);
  const blocks: CardBlock[] = [{ type: "header", text: plain(card.title, HEADER_LIMIT) }];
  const fields = card.lines.map((l) => plain(`${l.label}: ${l.value}`, FIELD_LIMIT, l.hidden));
  for (let i = 0; i < fields.length; i += FIELDS_PER_SECTION) {
    blocks.push({ type: "section", fields: fields.slice(i, i + FIELDS_PER_SECTION) });
  }
  if (card.body && (card.body.text !== "" || card.body.hidden > 0)) {
    blocks.push({ type: "section", text: plain("Body (as sent, secrets masked):", 100) });
    const text = fitBody(card.body, BODY_LIMIT) || " ";
    blocks.push({
      type: "rich_text",
      elements: [{ type: "rich_text_preformatted", elements: [{ type: "text", text }] }],
    });
  }
  if (card.agentSays !== null) {
    // Cut inside the quotes, so the count is of the agent's characters only.
    const measure = (t: string) => escapeSlack(t).length;
    const says = fitText(
      oneLine(card.agentSays, Number.POSITIVE_INFINITY),
      FIELD_LIMIT - 2,
      card.agentSaysHidden ?? 0,
      measure,
    );
    blocks.push({
      type: "context",
      elements: [plain("Agent says (its own words):", 100), plain(`"${says}"`, FIELD_LIMIT)],
    });
  }
  blocks.push({ type: "section", text: plain(card.status, FIELD_LIMIT) });
  if (card.link) {
    // Our URL (configured base + a gateway UUID), escaped all the same.
    blocks.push({
      type: "context",
      elements: [
        {
          type: "mrkdwn",
          text: `<${escapeSlack(card.link)}|See the full request> (all headers, the whole body)`,
        },
      ],
    });
  }
  if (card.buttons.length > 0) {
    blocks.push({ type: "actions", block_id: "warden_card", elements: card.buttons.map(button) });
  }
  // Escaping can grow the text up to 5×; fall back to a shorter rendering rather than exceed the limit.
  const full = escapeSlack(renderCardText(card, FALLBACK_LIMIT));
  const text = full.length <= FALLBACK_LIMIT ? full : escapeSlack(renderCardText(card, FALLBACK_LIMIT / 5));
  if (blocks.length > MAX_BLOCKS) throw new Error(`a Slack card has at most ${MAX_BLOCKS} blocks`);
  return { text, blocks };
}

/**
 * A batch card within Slack's 50 blocks: the head and its "Approve all" row, then each item as its
 * own single-card blocks (with its buttons) while they fit, the rest one compact context block each
 * that says its details and buttons did not fit and links its full request.
 */
function batchMessage(card: Card): { text: string; blocks: CardBlock[] } {
  const items = card.items ?? [];
  const head = cardMessage(headCard(card)).blocks;
  const all: CardBlock[] = card.buttons.length
    ? [{ type: "actions", block_id: "warden_card", elements: card.buttons.map((b, i) => button(b, i)) }]
    : [];
  let next = card.buttons.length;
  const itemBlocks = items.map((it, n) => {
    // Four blocks at most: title and facts, body, link, buttons (a single card takes eight).
    const facts = it.lines.map((l) => plain(`${l.label}: ${l.value}`, FIELD_LIMIT, l.hidden));
    if (it.agentSays !== null) {
      const says = fitText(
        oneLine(it.agentSays, Number.POSITIVE_INFINITY),
        FIELD_LIMIT - 40,
        it.agentSaysHidden ?? 0,
        (t) => escapeSlack(t).length,
      );
      facts.push(plain(`Agent says (its own words): "${says}"`, FIELD_LIMIT));
    }
    const hasBody = it.body && (it.body.text !== "" || it.body.hidden > 0);
    if (hasBody) facts.push(plain("Body (as sent, secrets masked): below", 100));
    facts.push(plain(`Status: ${it.status}`, FIELD_LIMIT));
    if (facts.length > FIELDS_PER_SECTION) {
      const rest = facts.splice(FIELDS_PER_SECTION - 1);
      facts.push(plain(rest.map((f) => f.text).join("; "), FIELD_LIMIT));
    }
    const blocks: CardBlock[] = [{ type: "section", text: plain(it.title, FIELD_LIMIT), fields: facts }];
    if (hasBody && it.body) {
      const text = fitBody(it.body, BODY_LIMIT) || " ";
      blocks.push({
        type: "rich_text",
        elements: [{ type: "rich_text_preformatted", elements: [{ type: "text", text }] }],
      });
    }
    if (it.link)
      blocks.push({
        type: "context",
        elements: [
          {
            type: "mrkdwn",
            text: `<${escapeSlack(it.link)}|See the full request> (all headers, the whole body)`,
          },
        ],
      });
    if (it.buttons.length > 0) {
      const elements = it.buttons.map((b) => button(b, next++));
      blocks.push({ type: "actions", block_id: `warden_card_${n + 1}`, elements });
    }
    return blocks;
  });
  const compact = (it: (typeof items)[number]): CardBlock => ({
    type: "context",
    elements: [
      plain(
        compactItem({ ...it, link: null }, FIELD_LIMIT).replace(/: see it in the web chat$/, ":"),
        FIELD_LIMIT,
      ),
      ...(it.link
        ? [{ type: "mrkdwn" as const, text: `<${escapeSlack(it.link)}|See the full request>` }]
        : []),
    ],
  });
  const room = MAX_BLOCKS - head.length - all.length;
  const biggest = Math.max(...itemBlocks.map((b) => b.length));
  const full = fullItems(items.length, room, biggest, 1);
  const blocks = [...head, ...all];
  for (const [i, it] of items.entries()) blocks.push(...(i < full ? (itemBlocks[i] ?? []) : [compact(it)]));
  const text = escapeSlack(renderBatchText(card, FALLBACK_LIMIT / 5).text);
  if (blocks.length > MAX_BLOCKS) throw new Error(`a Slack card has at most ${MAX_BLOCKS} blocks`);
  return { text, blocks };
}

function button(b: Card["buttons"][number], i: number): Button {
  const bytes = Buffer.byteLength(b.data, "utf8");
  if (bytes === 0 || bytes > BUTTON_DATA_LIMIT) {
    throw new Error(`Slack button data must be 1–64 bytes; "${b.label}" has ${bytes}`);
  }
  return {
    type: "button",
    action_id: `${ACTION_PREFIX}${i}`,
    text: plain(buttonLabel(b, BUTTON_LABEL_LIMIT), BUTTON_LABEL_LIMIT),
    value: b.data,
    ...(b.style ? { style: b.style } : {}),
  };
}
