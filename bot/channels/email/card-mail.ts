/**
 * Approval cards as mail (no SDK here). The text part is the honest plain-text card
 * (bot/channels/text.ts: every cut counted, the agent's words labelled and quoted on one line, body
 * lines prefixed) followed by our prompt; the HTML part is the same text HTML-escaped in a <pre> (the
 * body preview in a shaded block of its own), so nothing an agent wrote can become markup, a link or
 * a hidden instruction; our own link to the
 * full-request page (opening it decides nothing: a signed-in approver taps there; mail scanners that
 * pre-fetch links must never approve). Batch cards list every item (bot/channels/batch-layout.ts).
 */
import { parseBatchAction } from "../../batch-cards.js";
import { parseCardAction } from "../../cards.js";
import type { Card } from "../../channel.js";
import { agentLabel, tidyAgentText } from "../agent-voice.js";
import { renderBatchText, type Span } from "../batch-layout.js";
import { oneLine, renderCard } from "../text.js";

export type Verb = "approve" | "deny" | "grant";

/** Largest text in one mail; longer texts go out as several mails. */
export const TEXT_LIMIT = 20_000;

/** The verbs a card's buttons offer, in order. */
export function offeredVerbs(card: Card): Verb[] {
  const verbs: Verb[] = [];
  for (const b of card.buttons) {
    const action = parseCardAction(b.data)?.action ?? parseBatchAction(b.data)?.action;
    if (action && !verbs.includes(action)) verbs.push(action);
  }
  return verbs;
}

/** Our prompt: which words on the first line of a reply decide, or "" once decided. */
export function prompt(card: Card): string {
  const verbs = offeredVerbs(card);
  if (verbs.length === 0) return "";
  const main = verbs.filter((v) => v !== "grant").map((v) => `"${v}"`);
  const all = card.items && card.items.length > 0 ? " It decides every request listed." : "";
  let text =
    main.length > 0 ? `To decide, reply to this mail with ${main.join(" or ")} on the first line.` : "";
  const grant = card.buttons.find((b) => parseCardAction(b.data)?.action === "grant");
  if (grant) text += ` Reply "grant" for ${oneLine(grant.label, 400)}.`;
  return `${text.trim()}${all}`;
}

/** "[Warden] Approval: <title>" (one line: a subject can carry no header of its own). */
export function cardSubject(card: Card): string {
  return `[Warden] Approval: ${oneLine(card.title, 150)}`;
}

export interface MailBody {
  readonly text: string;
  readonly html: string;
}

const esc = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

const PRE = '<pre style="white-space:pre-wrap;font-family:monospace">';
const BODY_PRE =
  '<pre style="white-space:pre-wrap;font-family:monospace;border-left:3px solid #888;padding-left:8px;background:#f4f4f4">';

/**
 * The card text as HTML: everything escaped inside <pre>; the body preview in its own shaded block
 * (so its lines need no prefix there); our link clickable. Spans come from the honest renderer.
 */
function html(text: string, spans: readonly Span[], ask: string): string {
  let out = "";
  let pos = 0;
  for (const s of [...spans].sort((a, b) => a.offset - b.offset)) {
    if (s.offset < pos) continue;
    out += esc(text.slice(pos, s.offset));
    const seg = text.slice(s.offset, s.offset + s.length);
    if (s.kind === "body") out += `</pre>${BODY_PRE}${esc(seg)}</pre>${PRE}`;
    else if (/^https?:\/\/\S+$/.test(seg)) out += `<a href="${esc(seg)}">${esc(seg)}</a>`;
    else out += esc(seg);
    pos = s.offset + s.length;
  }
  out += esc(text.slice(pos));
  const askHtml = ask ? `<p><b>${esc(ask)}</b></p>` : "";
  const note = spans.some((s) => s.kind === "link") ? "<p>Opening the link decides nothing.</p>" : "";
  return `<!doctype html><html><body>${PRE}${out}</pre>${askHtml}${note}</body></html>`;
}

/** The card's text part (body lines prefixed) and HTML part (body shaded, unprefixed). */
export function renderCardMail(card: Card): MailBody {
  const ask = prompt(card);
  const room = TEXT_LIMIT - ask.length - 4;
  const batch = card.items !== undefined && card.items.length > 0;
  const text = batch ? renderBatchText(card, room).text : renderCard(card, room).text;
  let shown: { text: string; spans: Span[] };
  if (batch) shown = renderBatchText(card, room, { prefixBody: false });
  else {
    const r = renderCard(card, room, { prefixBody: false });
    const spans: Span[] = [];
    if (r.body) spans.push({ kind: "body", ...r.body });
    if (r.link) spans.push({ kind: "link", ...r.link });
    shown = { text: r.text, spans };
  }
  return { text: ask ? `${text}\n\n${ask}` : text, html: html(shown.text, shown.spans, ask) };
}

/** A follow-up in the card's thread (mail cannot be edited): the card as it stands now. */
export function renderFollowUp(card: Card): MailBody {
  const body = renderCardMail(card);
  const head =
    offeredVerbs(card).length === 0
      ? `Decided: ${oneLine(card.status, 300)}. Replies to this card no longer count.`
      : `Update: ${oneLine(card.status, 300)}.`;
  return { text: `${head}\n\n${body.text}`, html: body.html.replace("<body>", `<body><p>${esc(head)}</p>`) };
}

/** An agent's words: under its label, quoted with "| " so no line reads as Warden's own. */
export function renderAgentText(agent: string, text: string): MailBody {
  const quoted = tidyAgentText(text)
    .split("\n")
    .map((l) => `| ${l}`)
    .join("\n");
  const t = `${agentLabel(agent)}:\n${quoted}`;
  return { text: t, html: `<!doctype html><html><body>${PRE}${esc(t)}</pre></body></html>` };
}

/** Our own text as a mail body (escaped in HTML). */
export function renderPlain(text: string): MailBody {
  return { text, html: `<!doctype html><html><body>${PRE}${esc(text)}</pre></body></html>` };
}

/** The first line of a reply as a verb: approve / deny / grant (case, a final . or ! ignored). */
export function verbOfLine(text: string): Verb | undefined {
  const first = text.split("\n").find((l) => l.trim() !== "") ?? "";
  const t = first.trim().toLowerCase().replace(/[.!]$/, "").trim();
  return t === "approve" || t === "deny" || t === "grant" ? t : undefined;
}
