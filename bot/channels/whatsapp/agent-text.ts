/**
 * An agent's words as WhatsApp messages. WhatsApp has formatting and no escape, so the agent's text
 * goes inside a ``` block (where WhatsApp formats nothing) with every backtick followed by a
 * zero-width space, so it cannot close the block early; above it, the agent's name as a label, with
 * formatting characters swapped for lookalikes. Warden's own messages are never monospace, so nothing
 * the agent writes can read as Warden speaking.
 */
import { agentLabel } from "../agent-voice.js";
import { splitText } from "../text.js";

const fence = (t: string): string => t.replace(/`/g, "`\u200b");
const LOOKALIKE: Record<string, string> = { "*": "∗", _: "＿", "~": "∼", "`": "ˋ" };

/** Messages for `text` by `agent`, each within `limit` characters. */
export function agentTexts(agent: string, text: string, limit: number): string[] {
  const head = `${agentLabel(agent).replace(/[*_~`]/g, (c) => LOOKALIKE[c] ?? c)}:\n\`\`\``;
  const tail = "```";
  return pieces(text, limit - head.length - tail.length).map((p) => head + p + tail);
}

function pieces(text: string, max: number, raw = max): string[] {
  const out: string[] = [];
  // Trimmed: WhatsApp forms a ``` block only when no space touches its markers.
  for (const chunk of splitText(text, raw).map((c) => c.trim())) {
    const f = fence(chunk);
    if (f.length <= max) out.push(f);
    else out.push(...pieces(chunk, max, Math.max(1, Math.floor((chunk.length * max) / f.length) - 1)));
  }
  return out;
}
