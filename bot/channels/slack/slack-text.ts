/**
 * Slack's text wire format, both ways (no SDK here). Slack parses `&`, `<` and `>` as control
 * characters in every text it renders (`<!channel>`, `<@U…>`, `<https://evil|innocent>`), so all
 * outbound text is escaped: whatever an agent or a person wrote is shown, never interpreted.
 * Inbound text arrives escaped and with Slack's link/mention markup; we turn it back into what the
 * person typed, so commands and pasted values (a secret containing `&`) reach the bot intact.
 */
import { fitText, oneLine, splitText } from "../text.js";

/** Escapes Slack's three control characters; `&` first so entities are not double-escaped. */
export function escapeSlack(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * What a person typed, from Slack's inbound markup: `<@U1>` → `@U1`, `<#C1|ops>` → `#ops`,
 * `<!here>` → `@here`, `<https://x|label>` → `label`, then `&lt;` `&gt;` `&amp;` decoded (last, so a
 * typed "&lt;" stays as typed).
 */
export function decodeSlack(s: string): string {
  return s
    .replace(/<([^<>]*)>/g, (_m, inner: string) => {
      const [target = "", label] = inner.split("|", 2);
      if (target.startsWith("@")) return label ? `@${label.replace(/^@/, "")}` : target;
      if (target.startsWith("#")) return label ? `#${label}` : target;
      if (target.startsWith("!date")) return label ?? "";
      if (target.startsWith("!")) {
        const name = label ?? target.slice(1).split("^")[0] ?? "";
        return name.startsWith("@") ? name : `@${name}`;
      }
      return label ?? target;
    })
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** Removes mentions of `userId` (`<@U1>`, `<@U1|name>`) and tidies the space they leave. */
export function stripMention(s: string, userId: string): string {
  const re = new RegExp(`<@${userId.replace(/[^A-Za-z0-9]/g, "")}(\\|[^>]*)?>`, "g");
  return s
    .replace(re, " ")
    .replace(/[ \t]{2,}/g, " ")
    .trim();
}

/**
 * Splits `text` into escaped chunks of at most `limit` characters on the wire. Escaping can grow
 * a chunk (`&` → `&amp;`), so a chunk that no longer fits is split again, smaller.
 */
export function wireChunks(text: string, limit: number, rawLimit = limit): string[] {
  const out: string[] = [];
  for (const chunk of splitText(text, rawLimit)) {
    const escaped = escapeSlack(chunk);
    if (escaped.length <= limit) out.push(escaped);
    else out.push(...wireChunks(chunk, limit, Math.floor((chunk.length * limit) / escaped.length)));
  }
  return out;
}

/**
 * One escaped line of at most `max` characters (Block Kit fields have hard limits). A cut says how
 * many characters it hides, counting `hidden` ones cut before (bot/channels/text.ts `fitText`).
 */
export function fitLine(s: string, max: number, hidden = 0): string {
  const flat = oneLine(s, Number.POSITIVE_INFINITY);
  return escapeSlack(fitText(flat, max, hidden, (t) => escapeSlack(t).length));
}
