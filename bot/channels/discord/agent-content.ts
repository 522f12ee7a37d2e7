/**
 * An agent's words as Discord message contents. The agent's text is hostile: every character of it is
 * escaped (`escapeMarkdown` escapes `>` too), so it cannot end the quote, format, mention or link,
 * and everything after our `>>> ` is one quote under the agent's bold name: nothing it writes can
 * pass for a line of Warden's own. Escaping can grow a piece past Discord's 2000 characters, so a
 * piece that grew too long is split again, more finely.
 */
import { agentLabel } from "../agent-voice.js";
import { splitText } from "../text.js";
import { escapeMarkdown, TEXT_LIMIT } from "./embeds.js";

/** Message contents for `text` by `agent`, each within TEXT_LIMIT. */
export function agentContent(agent: string, text: string): string[] {
  const head = `**${escapeMarkdown(agentLabel(agent))}**\n>>> `;
  return pieces(text, TEXT_LIMIT - head.length).map((p) => head + p);
}

function pieces(text: string, max: number, raw = max): string[] {
  const out: string[] = [];
  for (const chunk of splitText(text, raw)) {
    const e = escapeMarkdown(chunk);
    if (e.length <= max) out.push(e);
    else out.push(...pieces(chunk, max, Math.max(1, Math.floor((chunk.length * max) / e.length) - 1)));
  }
  return out;
}
