/**
 * One received mail, parsed (mailparser) and judged before the channel looks at it. Everything here
 * is untrusted: any header can be forged by the sender, so nothing in this file decides anything;
 * it only extracts. Auto-replies (vacation notices, bounces, list traffic) are ignored so two robots
 * cannot talk to each other forever, and so a bounce quoting a card cannot act on it. The text the
 * bot reads is the part before any quoted history (a reply's first non-quoted lines); an HTML-only
 * mail is read through mailparser's text conversion of its HTML.
 */
import { simpleParser } from "mailparser";
import { z } from "zod";

export type InboundMail =
  | { readonly kind: "ignored"; readonly reason: IgnoreReason }
  | {
      readonly kind: "mail";
      /** The From: address, lower-cased (forgeable: a claim, not a proof). */
      readonly from: string;
      readonly name: string;
      readonly messageId: string;
      readonly subject: string;
      /** In-Reply-To then References, angle brackets removed (newest first). */
      readonly replyTo: readonly string[];
      /** The thread's root: the first References id, else In-Reply-To, else this mail. */
      readonly threadRoot: string;
      /** Every recipient address the mail names (To, Cc, Delivered-To, X-Original-To), lower-cased. */
      readonly recipients: readonly string[];
      /** The new text (quoted history and signature cut). */
      readonly text: string;
    };

export type IgnoreReason =
  | "auto_submitted"
  | "auto_reply_header"
  | "bulk_precedence"
  | "null_return_path"
  | "no_sender"
  | "several_senders"
  | "no_message_id";

const Email = z.email().max(254);
const MAX_TEXT = 16_000;

const ids = (v: string | string[] | undefined): string[] =>
  (Array.isArray(v) ? v : (v ?? "").split(/\s+/))
    .map((s) => s.trim().replace(/^<|>$/g, ""))
    // Ids go back out in our In-Reply-To / References headers: printable, no brackets or quotes.
    .filter((s) => /^[\x21-\x7e]{1,300}$/.test(s) && !/[<>"]/.test(s));

/** Raw header values of `name` (every occurrence), unfolded. */
function headerValues(lines: readonly { key: string; line: string }[], name: string): string[] {
  return lines
    .filter((l) => l.key === name)
    .map((l) =>
      l.line
        .slice(l.line.indexOf(":") + 1)
        .replace(/\r?\n[ \t]+/g, " ")
        .trim(),
    );
}

function autoReply(lines: readonly { key: string; line: string }[]): IgnoreReason | undefined {
  const auto = headerValues(lines, "auto-submitted");
  if (auto.some((v) => v.toLowerCase().split(";")[0]?.trim() !== "no")) return "auto_submitted";
  if (["x-autoreply", "x-autorespond", "x-autoresponse"].some((h) => headerValues(lines, h).length > 0))
    return "auto_reply_header";
  if (headerValues(lines, "precedence").some((v) => /^(bulk|auto_reply|list|junk)$/i.test(v)))
    return "bulk_precedence";
  const rp = headerValues(lines, "return-path");
  if (rp.some((v) => /^<\s*>$/.test(v) || v === "")) return "null_return_path";
  return undefined;
}

/** The reply's own words: lines up to the first quoted line, "On … wrote:" or a "-- " signature. */
export function newText(text: string): string {
  const out: string[] = [];
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    if (/^\s*>/.test(line) || line === "-- " || /^On .{1,300} wrote:\s*$/.test(line)) break;
    if (/^-{2,}\s*(Original Message|Forwarded message)/i.test(line.trim())) break;
    out.push(line);
  }
  return out.join("\n").trim().slice(0, MAX_TEXT);
}

/** Parses and judges one raw message (already size-bounded by the inbox). */
export async function parseInboundMail(raw: Buffer): Promise<InboundMail> {
  const m = await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
  const lines = m.headerLines ?? [];
  const auto = autoReply(lines);
  if (auto) return { kind: "ignored", reason: auto };
  const senders = m.from?.value ?? [];
  if (senders.length > 1) return { kind: "ignored", reason: "several_senders" };
  const from = Email.safeParse(senders[0]?.address ?? "");
  if (!from.success) return { kind: "ignored", reason: "no_sender" };
  const messageId = ids(m.messageId)[0];
  if (!messageId) return { kind: "ignored", reason: "no_message_id" };
  const refs = ids(m.references);
  const inReplyTo = ids(m.inReplyTo);
  const addrs = (o: typeof m.to) => (Array.isArray(o) ? o : o ? [o] : []).flatMap((a) => a.value);
  const recipients = [
    ...[...addrs(m.to), ...addrs(m.cc)].map((a) => a.address ?? ""),
    ...headerValues(lines, "delivered-to"),
    ...headerValues(lines, "x-original-to"),
  ]
    .map((a) => a.replace(/^<|>$/g, "").trim().toLowerCase())
    .filter((a) => a !== "" && a.length <= 254);
  // mailparser turns an HTML-only mail's HTML into text (tags dropped, entities decoded).
  const body = typeof m.text === "string" && m.text.trim() !== "" ? m.text : "";
  return {
    kind: "mail",
    from: from.data.toLowerCase(),
    name: (senders[0]?.name ?? "").slice(0, 100),
    messageId,
    subject: (m.subject ?? "").slice(0, 300),
    replyTo: [...inReplyTo, ...refs.slice().reverse()],
    threadRoot: refs[0] ?? inReplyTo[0] ?? messageId,
    recipients: [...new Set(recipients)],
    text: newText(body),
  };
}
