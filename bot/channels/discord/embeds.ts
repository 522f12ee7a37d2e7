/**
 * Card → Discord embed + button rows, and plain text → safe message content. Pure: no client here.
 *
 * Threat model. Discord renders markdown in message content and embed fields, so text from an agent
 * or a person could otherwise forge a masked link (`[approve](https://evil)`), a mention, a heading
 * or a fake "Status" line. Everything we send is escaped with `escapeMarkdown` (Discord honours a
 * backslash before any punctuation), card fields are flattened to one line with bidi controls
 * stripped (`oneLine`), and every message carries `allowed_mentions: {parse: []}` so nothing pings.
 * The status is an embed field, not the footer: footers render no markdown, so escapes would show.
 * The body preview sits in a code block (nothing renders there; backtick runs are split with a
 * zero-width space so they cannot close it). Every cut says how many characters it hides.
 */
import type { APIActionRowComponent, APIButtonComponent, APIEmbed } from "discord.js";
import { ButtonStyle, ComponentType } from "discord.js";
import type { Card } from "../../channel.js";
import { compactItem, headCard, itemCard } from "../batch-layout.js";
import { bodyText, buttonLabel, fitBody, fitText, notShown, oneLine, splitText } from "../text.js";

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

/**
 * Flattened, escaped and cut to `max` characters once escaped; a cut says how many characters of
 * the text it hides, `hidden` (cut before) included. Cutting happens before escaping, so no escape
 * is ever split.
 */
function escaped(s: string, max: number, hidden = 0): string {
  const flat = oneLine(s, Number.POSITIVE_INFINITY);
  return escapeMarkdown(fitText(flat, max, hidden, (t) => escapeMarkdown(t).length));
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

/** Discord's embed limits: description, field value, fields, and all text of one embed together. */
const DESCRIPTION_LIMIT = 4096;
const FIELD_LIMIT = 1024;
const MAX_FIELDS = 25;
const EMBED_TOTAL = 6000;
const BODY_HEAD = "**Body** (as sent, secrets masked)\n```\n";
const BODY_TAIL = "\n```";

/** Inside a code block nothing renders, but a backtick run could close it: a zero-width space splits every run. */
const fence = (s: string): string => s.replace(/`/g, "`\u200b");

/** Our own link: shown only when it is a plain http(s) URL, so it cannot carry markdown. */
const safeLink = (link: string | null | undefined): string | undefined =>
  link && /^https?:\/\/[^\s<>()[\]`|*_~\\]+$/.test(link) ? link : undefined;

/**
 * The embed for a card: title (linking to the full request), the body preview as a code block in
 * the description, one field per line, the agent's words labelled, the status and the link last.
 * Field values are cut to 1024, then shorter until the whole embed fits Discord's 6000 characters;
 * every cut says how many characters it hides.
 */
export function cardEmbed(card: Card, total = EMBED_TOTAL): APIEmbed {
  const link = safeLink(card.link);
  let embed: APIEmbed = {};
  for (const max of [FIELD_LIMIT, 500, 250, 120, 60]) {
    const lines = card.lines.map((l) => ({ name: l.label, value: l.value, hidden: l.hidden ?? 0 }));
    // More lines than fields: the rest share the last field rather than silently disappearing.
    const room = MAX_FIELDS - 1 - (card.agentSays === null ? 0 : 1) - (link ? 1 : 0);
    if (lines.length > room) {
      const rest = lines.splice(room - 1);
      lines.push({ name: "More", value: rest.map((l) => `${l.name}: ${l.value}`).join("; "), hidden: 0 });
    }
    const fields = lines.map((l) => ({
      name: escaped(l.name, 256),
      value: escaped(l.value, max, l.hidden) || "\u200b",
      inline: false,
    }));
    if (card.agentSays !== null) {
      // Quoted, so even an empty or odd reason is visibly a quotation.
      fields.push({
        name: AGENT_SAYS_LABEL,
        value: `"${escaped(card.agentSays, max - 2, card.agentSaysHidden ?? 0)}"`,
        inline: false,
      });
    }
    fields.push({ name: "Status", value: escaped(card.status, FIELD_LIMIT) || "\u200b", inline: false });
    if (link) fields.push({ name: "Full request (all headers, the whole body)", value: link, inline: false });
    const title = escaped(card.title, 256);
    embed = { title, ...(link ? { url: link } : {}), fields };
    const used = title.length + fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
    if (!card.body || (card.body.text === "" && card.body.hidden === 0)) {
      if (used <= total) return embed;
      continue;
    }
    const bodyRoom = Math.min(DESCRIPTION_LIMIT, total - used) - BODY_HEAD.length - BODY_TAIL.length;
    if (bodyRoom < Math.min(200, total / 4)) continue;
    const body = fitBody(card.body, bodyRoom, (t) => fence(t).length);
    return { ...embed, description: `${BODY_HEAD}${fence(body)}${BODY_TAIL}` };
  }
  // Dozens of lines (never in practice): the body is only counted, never silently dropped.
  const count = card.body ? bodyText(card.body.text).length + card.body.hidden : 0;
  return count > 0 ? { ...embed, description: `**Body**: ${notShown(count)}` } : embed;
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
      label: buttonLabel(b, BUTTON_LABEL_LIMIT) || "…",
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

const MAX_EMBEDS = 10;
const embedSize = (e: APIEmbed): number =>
  (e.title?.length ?? 0) +
  (e.description?.length ?? 0) +
  (e.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0);

/**
 * A batch card within Discord's limits (10 embeds, 6000 characters over all of them, 5 button rows):
 * the head embed with "Approve all" in the first row; then one embed per item while they fit (the
 * first four waiting ones get a row of their own buttons, the others say theirs did not fit), and
 * the rest in one last embed, one compact line each, pointing to their full request.
 */
function batchMessage(card: Card): Record<string, unknown> {
  const items = card.items ?? [];
  const head = cardEmbed(headCard(card), 1200);
  const rows = cardComponents({ ...card, items: [] });
  const room = EMBED_TOTAL - embedSize(head) - 100;
  // A line for an item that did not fit: escaped gist, then our own link (raw, so it autolinks).
  const compact = (it: (typeof items)[number], max: number): string => {
    const link = safeLink(it.link);
    if (it.buttons.length === 0 && it.lines.length === 0) return escaped(`${it.title} — ${it.status}`, max);
    const tail = ` — not shown in full here (no buttons): ${link ?? "see the web chat"}`;
    return escaped(`${it.title} — ${it.status}`, Math.max(30, max - tail.length)) + tail;
  };
  for (let k = Math.min(items.length, MAX_EMBEDS - 2); k >= 0; k--) {
    const left = items.length - k;
    const lineMax = Math.min(
      300,
      Math.floor((Math.min(DESCRIPTION_LIMIT, room - k * 400) - 40) / Math.max(1, left)),
    );
    if (left > 0 && lineMax < 120) continue;
    const rest = items.slice(k).map((it) => compact(it, lineMax));
    const restText = rest.join("\n");
    const share = k > 0 ? Math.floor((room - restText.length) / k) : 0;
    if (k > 0 && share < 400) continue;
    const itemRows: APIActionRowComponent<APIButtonComponent>[] = [];
    const embeds = items.slice(0, k).map((it) => {
      const withRow = it.buttons.length > 0 && itemRows.length < MAX_ROWS - rows.length;
      if (withRow) itemRows.push(...cardComponents({ ...itemCard(it, true), items: [] }).slice(0, 1));
      const status =
        it.buttons.length > 0 && !withRow
          ? `${it.status} (its own buttons did not fit on this message: see its full request)`
          : it.status;
      return cardEmbed({ ...itemCard(it), status }, share);
    });
    if (rest.length > 0)
      embeds.push({ title: "More requests on this card", description: fitText(restText, DESCRIPTION_LIMIT) });
    if (embeds.reduce((n, e) => n + embedSize(e), embedSize(head)) > EMBED_TOTAL) continue;
    return {
      content: "",
      embeds: [head, ...embeds],
      components: [...rows, ...itemRows],
      allowed_mentions: NO_MENTIONS,
    };
  }
  throw new Error("a batch card does not fit in one Discord message");
}

/** The full message body for a card (create or edit). */
export function cardMessage(card: Card): Record<string, unknown> {
  if (card.items && card.items.length > 0) return batchMessage(card);
  return {
    content: "",
    embeds: [cardEmbed(card)],
    components: cardComponents(card),
    allowed_mentions: NO_MENTIONS,
  };
}
