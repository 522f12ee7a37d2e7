/**
 * Card → Discord embed + button rows, and plain text → safe message content. Pure: no client here.
 *
 * Threat model. Discord renders markdown in message content and embed fields, so text from an agent
 * or a person could otherwise forge a masked link (`[approve](https://evil)`), a mention, a heading
 * or a fake "Status" line. Everything we send is escaped with `escapeMarkdown` (Discord honours a
 * backslash before any punctuation), card fields are flattened to one line with bidi controls
 * stripped (`oneLine`), and every message carries `allowed_mentions: {parse: []}` so nothing pings.
 * The status is an embed field, not the footer: footers render no markdown, so escapes would show.
 */
import type { APIActionRowComponent, APIButtonComponent, APIEmbed } from "discord.js";
import { ButtonStyle, ComponentType } from "discord.js";
import type { Card } from "../../channel.js";
import { oneLine, splitText } from "../text.js";

/** Discord's limit for message content, in characters. */
export const TEXT_LIMIT = 2000;
/** Discord's limit for a button's custom_id. */
export const CUSTOM_ID_LIMIT = 100;
const BUTTON_LABEL_LIMIT = 80;
const BUTTONS_PER_ROW = 5;
const MAX_ROWS = 5;

/** No mention of anyone or any role is ever resolved into a ping. */
export const NO_MENTIONS: { parse: [] } = { parse: [] };

/** The agent's reason is shown under this label, so nobody mistakes it for Warden's words. */
export const AGENT_SAYS_LABEL = "Agent says (its own words)";

/**
 * Escapes Discord markdown so `s` renders literally: formatting, spoilers, code, masked links,
 * mentions/emoji/timestamps (`<…>`), `@everyone`, autolinks (`scheme://`), and line-start
 * headings, quotes and lists.
 */
export function escapeMarkdown(s: string): string {
  return s
    .replace(/[\\*_~`|[\]<>@]/g, "\\$&")
    .replace(/:(?=\/\/)/g, "\\:")
    .replace(/^(\s*)([#\-+])/gm, "$1\\$2")
    .replace(/^(\s*\d+)\./gm, "$1\\.");
}

/** Escapes, then cuts to `max` characters without leaving a dangling backslash. */
function escaped(s: string, max: number): string {
  const out = escapeMarkdown(s);
  if (out.length <= max) return out;
  let cut = max - 1;
  // Count the backslashes before the cut: an odd number means we would split an escape.
  let n = 0;
  while (cut - 1 - n >= 0 && out[cut - 1 - n] === "\\") n++;
  if (n % 2 === 1) cut--;
  return `${out.slice(0, cut)}…`;
}

/**
 * Splits `text` into escaped message contents of at most TEXT_LIMIT characters each. Escaping can
 * double a chunk's length, so a chunk that grew past the limit is split again, more finely.
 */
export function contentChunks(text: string, limit = TEXT_LIMIT): string[] {
  const out: string[] = [];
  for (const raw of splitText(text, limit)) {
    const e = escapeMarkdown(raw);
    if (e.length <= TEXT_LIMIT) out.push(e);
    else out.push(...contentChunks(raw, Math.max(1, Math.floor((limit * TEXT_LIMIT) / e.length) - 1)));
  }
  return out;
}

/** The embed for a card: title, one field per line, the agent's words labelled, the status last. */
export function cardEmbed(card: Card): APIEmbed {
  const fields = card.lines.slice(0, 22).map((l) => ({
    name: escaped(oneLine(l.label, 256), 256),
    value: escaped(oneLine(l.value, 1024), 1024) || "\u200b",
    inline: false,
  }));
  if (card.agentSays !== null) {
    // Quoted, so even an empty or odd reason is visibly a quotation.
    fields.push({
      name: AGENT_SAYS_LABEL,
      value: `"${escaped(oneLine(card.agentSays, 1000), 1000)}"`,
      inline: false,
    });
  }
  fields.push({
    name: "Status",
    value: escaped(oneLine(card.status, 1024), 1024) || "\u200b",
    inline: false,
  });
  return { title: escaped(oneLine(card.title, 256), 256), fields };
}

/** Button rows for a card; `[]` when it has none (which removes them when editing). */
export function cardComponents(card: Card): APIActionRowComponent<APIButtonComponent>[] {
  const buttons: APIButtonComponent[] = card.buttons.map((b) => {
    if (b.data.length === 0 || b.data.length > CUSTOM_ID_LIMIT) {
      throw new Error(
        `Discord button data must be 1–${CUSTOM_ID_LIMIT} characters; "${b.label}" has ${b.data.length}`,
      );
    }
    return {
      type: ComponentType.Button,
      // Labels render no markdown: flatten, never escape (a backslash would show).
      label: oneLine(b.label, BUTTON_LABEL_LIMIT) || "…",
      custom_id: b.data,
      style: styleOf(b.style),
    };
  });
  const rows: APIActionRowComponent<APIButtonComponent>[] = [];
  for (let i = 0; i < buttons.length; i += BUTTONS_PER_ROW) {
    rows.push({ type: ComponentType.ActionRow, components: buttons.slice(i, i + BUTTONS_PER_ROW) });
  }
  if (rows.length > MAX_ROWS) throw new Error(`Discord allows at most ${MAX_ROWS * BUTTONS_PER_ROW} buttons`);
  return rows;
}

type ActionStyle = ButtonStyle.Success | ButtonStyle.Danger | ButtonStyle.Secondary;
function styleOf(style: Card["buttons"][number]["style"]): ActionStyle {
  if (style === "primary") return ButtonStyle.Success;
  if (style === "danger") return ButtonStyle.Danger;
  return ButtonStyle.Secondary;
}

/** The full message body for a card (create or edit). */
export function cardMessage(card: Card): Record<string, unknown> {
  return {
    content: "",
    embeds: [cardEmbed(card)],
    components: cardComponents(card),
    allowed_mentions: NO_MENTIONS,
  };
}
