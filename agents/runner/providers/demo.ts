/**
 * The demo brain: a SCRIPTED stand-in for a model, for the quick start and tests. It matches a few
 * fixed phrases against the demo service (inbox, calendar, send, delete) and says so in its first
 * reply, so nobody mistakes it for an AI. It reports what the gateway decided honestly: sent, refused
 * by policy (with the code and rule), not approved, or approval expired.
 */
import type { Brain, Tools } from "../brain.js";
import type { HttpToolResponse } from "../http-tool.js";
import { actFamily, FAMILY_HELP, parseFamilyRequest } from "./demo-family.js";

/** Options for {@link createDemoBrain}. */
export interface DemoBrainOptions {
  /** Base URL of the demo service; default `http://demo.warden.local`. */
  readonly demoUrl?: string;
  /** The `DEMO_API_KEY` placeholder (the gateway swaps in the real key); omitted when absent. */
  readonly apiKey?: string;
  /** Base URL of the pretend family service; default `http://family.warden.local`. */
  readonly familyUrl?: string;
}

/** What a request was understood as. Exported for tests. */
export type DemoIntent =
  | { readonly kind: "inbox" }
  | { readonly kind: "calendar" }
  | { readonly kind: "send"; readonly to: string; readonly subject: string; readonly body: string }
  | { readonly kind: "delete" }
  | { readonly kind: "ask"; readonly question: string }
  | { readonly kind: "help" };

/** An address, or a first name that is not a filler word ("email the report to …"). */
const RECIPIENT = String.raw`([\w.+-]+@[\w.-]+|(?!(?:the|my|a|an|this|that|it|me|them|report)\b)[a-z]+)\b`;
const LABEL = "(Scripted demo brain: no AI model here, just a few fixed phrases.)";
const HELP = [
  "I understand:",
  '• "check my inbox" / "read my mail"',
  '• "what\'s on my calendar"',
  '• "send the report to Alice" / "email bob about lunch"',
  '• "delete the first email" (policy refuses this one on purpose)',
  '• "ask me <question>"',
  ...FAMILY_HELP,
].join("\n");

/** Creates the scripted demo brain. */
export function createDemoBrain(options: DemoBrainOptions = {}): Brain {
  const base = (options.demoUrl ?? "http://demo.warden.local").replace(/\/+$/, "");
  let introduced = false;

  const familyBase = (options.familyUrl ?? "http://family.warden.local").replace(/\/+$/, "");

  async function act(text: string, tools: Tools): Promise<string> {
    const auth: Record<string, string> = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
    const family = parseFamilyRequest(text);
    if (family) return actFamily(family, tools, { base: familyBase, auth, reason: headerSafe(text) });
    const intent = parseDemoRequest(text);
    switch (intent.kind) {
      case "inbox": {
        const res = await tools.http({ method: "GET", url: `${base}/inbox`, headers: auth });
        return res.status === 200 ? summarise("inbox", res.body) : outcome("Reading the inbox", res);
      }
      case "calendar": {
        const res = await tools.http({ method: "GET", url: `${base}/calendar/today`, headers: auth });
        return res.status === 200 ? summarise("calendar", res.body) : outcome("Reading the calendar", res);
      }
      case "send": {
        const res = await tools.http({
          method: "POST",
          url: `${base}/send`,
          headers: { ...auth, "content-type": "application/json", "x-warden-reason": headerSafe(text) },
          body: JSON.stringify({ to: intent.to, subject: intent.subject, body: intent.body }),
        });
        return outcome(`Sending "${intent.subject}" to ${intent.to}`, res);
      }
      case "delete": {
        const res = await tools.http({ method: "DELETE", url: `${base}/inbox/1`, headers: auth });
        return outcome("Deleting message 1", res);
      }
      case "ask":
        return `You answered: ${await tools.ask(intent.question)}`;
      case "help":
        return HELP;
    }
  }

  return {
    async handle(message, tools) {
      const reply = await act(message.text, tools);
      if (introduced) return reply;
      introduced = true;
      return `${LABEL}\n${reply}`;
    },
  };
}

/** Maps plain English to an intent; order matters ("delete the email" is a delete, not a send). */
export function parseDemoRequest(text: string): DemoIntent {
  const t = text.trim();
  const ask = /^(?:please\s+)?ask me\b[\s,:]*(.*)$/is.exec(t);
  if (ask) return { kind: "ask", question: asQuestion(ask[1] ?? "") };
  if (/\b(delete|remove|trash)\b/i.test(t)) return { kind: "delete" };
  if (/\binbox\b/i.test(t) || /\b(check|read|show|list)\b.*\b(mail|email|e-mail|messages)\b/i.test(t)) {
    return { kind: "inbox" };
  }
  if (/\b(calendar|schedule|agenda|meetings?)\b/i.test(t)) return { kind: "calendar" };
  // "email bob to say hi" names bob first; "send the report to Alice" names her after "to".
  const to =
    new RegExp(`\\b(?:email|mail)\\s+${RECIPIENT}`, "i").exec(t)?.[1] ??
    new RegExp(`\\b(?:send|email|mail|forward)\\b.*?\\bto\\s+${RECIPIENT}`, "i").exec(t)?.[1];
  if (/\b(send|email|mail|forward)\b/i.test(t) && to) {
    const address = to.includes("@") ? to.toLowerCase() : `${to.toLowerCase()}@example.com`;
    const report = /\breport\b/i.test(t);
    const name = to.includes("@") ? (to.split("@")[0] as string) : to;
    const greeting = `Hi ${name.charAt(0).toUpperCase()}${name.slice(1).toLowerCase()},`;
    const body = report ? "Here is the report you asked for." : `A note, as requested: "${t}"`;
    return {
      kind: "send",
      to: address,
      subject: report ? "Report" : "Note",
      body: `${greeting}\n\n${body}\n\nSent by a Warden demo agent.`,
    };
  }
  return { kind: "help" };
}

/** Says what happened, distinguishing the gateway's decisions from the service's own answers. */
function outcome(action: string, res: HttpToolResponse): string {
  if (res.status >= 200 && res.status < 300) return `${action}: done (HTTP ${res.status}).`;
  const e = res.wardenError;
  if (!e) return `${action} failed: the demo service answered HTTP ${res.status}: ${res.body.slice(0, 200)}`;
  const where = [e.rule ? `rule "${e.rule}"` : "", e.policy ? `policy "${e.policy}"` : ""].filter(Boolean);
  const detail = where.length > 0 ? ` (${where.join(" in ")})` : "";
  switch (e.code) {
    case "approval_denied":
      return `${action}: not approved. A human denied the request, so nothing was sent.`;
    case "approval_expired":
      return `${action}: the approval request expired before anyone answered, so nothing was sent.`;
    case "policy_denied":
    case "host_not_allowed":
      return `${action}: refused by policy (${e.code})${detail}. Nothing was sent.`;
    default:
      return `${action}: refused by Warden (${e.code})${detail}${e.message ? `: ${e.message}` : ""}.`;
  }
}

/** Lists subjects (inbox) or titles (calendar) from whatever list the service returned. */
function summarise(what: "inbox" | "calendar", body: string): string {
  let items: Array<Record<string, unknown>>;
  try {
    const parsed: unknown = JSON.parse(body);
    const list = Array.isArray(parsed)
      ? parsed
      : Object.values((parsed ?? {}) as Record<string, unknown>).find(Array.isArray);
    items = (list ?? []).filter((x): x is Record<string, unknown> => typeof x === "object" && x !== null);
  } catch {
    return `The ${what} answered, but not with JSON I understand: ${body.slice(0, 200)}`;
  }
  if (items.length === 0)
    return what === "inbox" ? "Your inbox is empty." : "Nothing on your calendar today.";
  const str = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : undefined);
  const lines = items.map((item) => {
    const title = str(item.subject) ?? str(item.title) ?? str(item.summary) ?? "(untitled)";
    const extra = what === "inbox" ? str(item.from) : (str(item.start) ?? str(item.time));
    return `• ${what === "calendar" && extra ? `${extra} ` : ""}${title}${what === "inbox" && extra ? ` (from ${extra})` : ""}`;
  });
  const head = what === "inbox" ? `You have ${items.length} message(s):` : "Today on your calendar:";
  return [head, ...lines].join("\n");
}

function asQuestion(raw: string): string {
  const q = raw.trim().replace(/^(?:to|about|whether|if)\s+/i, "") || "what should I do next";
  const cap = `${q.charAt(0).toUpperCase()}${q.slice(1)}`;
  return /[?.!]$/.test(cap) ? cap : `${cap}?`;
}

/** Header values must be printable ASCII; the reason is shown on the card, so keep it short. */
function headerSafe(text: string): string {
  return text
    .replace(/[^\x20-\x7e]+/g, " ")
    .trim()
    .slice(0, 300);
}
