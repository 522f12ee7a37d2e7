/**
 * An agent's words as Slack messages. The agent's text is hostile: it goes into a `rich_text_quote`
 * text element, which Slack shows literally (no mrkdwn, no `<!channel>`, no links it did not type as
 * text), under a context line naming the agent; Warden's own messages never use this shape, so nothing
 * the agent writes can read as Warden speaking. The `text` field is only the notification fallback:
 * the label and the start of the text, escaped.
 */
import { agentLabel } from "../agent-voice.js";
import { oneLine, splitText } from "../text.js";
import type { PlainText } from "./blocks.js";
import { escapeSlack } from "./slack-text.js";

/** Characters of agent text per message, as for the card's body preview (a rich-text element). */
const PIECE = 3000;
const FALLBACK = 150;

export type AgentBlock =
  | { type: "context"; elements: [PlainText] }
  | {
      type: "rich_text";
      elements: [{ type: "rich_text_quote"; elements: [{ type: "text"; text: string }] }];
    };

/** One message per piece of `text`, each labelled with the agent's name. */
export function agentMessages(agent: string, text: string): { text: string; blocks: AgentBlock[] }[] {
  const label = agentLabel(agent);
  return splitText(text, PIECE).map((piece) => {
    const flat = [...oneLine(piece, Number.POSITIVE_INFINITY)]; // code points: never half a pair
    const preview = flat.length > FALLBACK ? `${flat.slice(0, FALLBACK).join("")}…` : flat.join("");
    return {
      text: escapeSlack(`${label}: ${preview}`),
      blocks: [
        { type: "context", elements: [{ type: "plain_text", text: label, emoji: true }] },
        {
          type: "rich_text",
          elements: [{ type: "rich_text_quote", elements: [{ type: "text", text: piece }] }],
        },
      ],
    };
  });
}
