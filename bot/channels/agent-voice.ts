/**
 * An agent's words in chat (no SDK here). Agent output is hostile text: it must never read as Warden
 * speaking. Every channel shows it under the agent's name, in a style Warden's own messages never use
 * (a quote, a tinted bubble, a monospace block), with the platform's markup neutralised by that
 * channel; this file gives them the label and the tidied text. The agent's name is a validated agent
 * name upstream, but it is flattened and cut here all the same.
 */
import { bodyText, oneLine } from "./text.js";

/** Longest agent name shown in a label. */
const NAME_MAX = 64;

/** The agent's name as a label: one line, no controls, bounded. */
export function agentName(agent: string): string {
  return oneLine(agent, NAME_MAX) || "agent";
}

/** "🤖 demo (agent)": the header every channel puts above an agent's text. */
export function agentLabel(agent: string): string {
  return `🤖 ${agentName(agent)} (agent)`;
}

/**
 * The agent's text as shown: control and bidi characters gone, trailing spaces dropped, no leading
 * or trailing blank lines, and any run of blank lines collapsed to one.
 */
export function tidyAgentText(text: string): string {
  return bodyText(text)
    .split("\n")
    .map((l) => l.trimEnd())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/^\n+|\n+$/g, "");
}
