/**
 * Approval cards and their button data. Untrusted: everything the agent chose (method, URL, body
 * preview, reason) and the button data that comes back from the platform. Cards are built from the
 * gateway's `ApprovalView` only (the body preview arrives already masked); agent text is stripped of
 * control and bidi characters and bounded, and the reason is shown only as the agent's words. Button
 * data is parsed with one strict pattern; anything else is refused by the caller.
 */
import type { ApprovalView } from "../gateway/index.js";
import type { Card } from "./channel.js";

export type CardActionKind = "approve" | "deny" | "grant";

/** A parsed button tap. */
export interface CardAction {
  readonly approvalId: string;
  readonly action: CardActionKind;
}

export interface BuildCardOptions {
  readonly now?: () => number;
  /** Display name for an approver id in the status line (defaults to the id). */
  readonly nameOf?: (id: string) => string;
  /**
   * The web chat's base URL (`http://127.0.0.1:7420`, or its public URL): every card links to the
   * full held request at `<base>/approvals/<id>`. Absent: no link (tests of other parts).
   */
  readonly webBase?: string;
}

/** `<base>/approvals/<id>`: where the whole held request can be read (signed-in approvers only). */
export function fullRequestUrl(base: string, approvalId: string): string {
  return `${base.replace(/\/+$/, "")}/approvals/${encodeURIComponent(approvalId)}`;
}

// Approval ids are UUIDs from the gateway; the tail bounds the total at 64 bytes.
const ACTION_RE = /^a:([A-Za-z0-9-]{1,48}):(approve|deny|grant)$/;
const MAX_DATA_BYTES = 64;

/** Button data for one action on one approval. */
export function actionData(approvalId: string, action: CardActionKind): string {
  const data = `a:${approvalId}:${action}`;
  if (!ACTION_RE.test(data) || Buffer.byteLength(data) > MAX_DATA_BYTES)
    throw new Error("approval id does not fit in button data");
  return data;
}

/** Parses button data from a tap; undefined for anything that is not exactly what we send. */
export function parseCardAction(data: unknown): CardAction | undefined {
  if (typeof data !== "string" || Buffer.byteLength(data) > MAX_DATA_BYTES) return undefined;
  const m = ACTION_RE.exec(data);
  if (!m?.[1] || !m[2]) return undefined;
  return { approvalId: m[1], action: m[2] as CardActionKind };
}

/**
 * A verb without an approval id, from platforms with no buttons (a WhatsApp reply or reaction to
 * the card): the approval is then the one whose card is the message replied to.
 */
export function parseCardVerb(data: unknown): CardActionKind | undefined {
  return data === "approve" || data === "deny" || data === "grant" ? data : undefined;
}

/** The card for an approval in its current state. Buttons only while it is pending. */
export function buildCard(view: ApprovalView, opts: BuildCardOptions = {}): Card {
  const now = opts.now ?? Date.now;
  const nameOf = opts.nameOf ?? ((id: string) => id);
  const agent = clean(view.agent, 64).text;
  const method = clean(view.method, 16).text;
  const request = clean(`${view.method} ${view.url}`, MAX_VALUE);
  const lines: Card["lines"][number][] = [
    { label: "Agent", value: agent },
    { label: "Request", value: request.text, ...hiddenOf(request) },
    { label: "Policy", value: `${clean(view.policy, 64).text} / ${clean(view.rule, 64).text}` },
  ];
  // Both methods are evaluated; the approver must see that the upstream may act on the second one.
  for (const o of view.overrides ?? []) {
    const header = o.via.endsWith(" header") ? `${o.via.slice(0, -" header".length)}: ` : `${o.via} = `;
    const second = clean(o.method, 16).text;
    lines.push({
      label: "Method override",
      value: `${clean(header, 80).text}${second} — checked as ${method} and ${second}`,
    });
  }
  if (view.secrets !== undefined)
    lines.push({
      label: "Secrets carried",
      value:
        view.secrets.length === 0
          ? "none"
          : view.secrets.map((p) => `${clean(p.name, 64).text} → ${clean(p.where, 100).text}`).join(", "),
    });
  const content = contentLine(view);
  if (content) lines.push({ label: "Content", value: content });
  if (view.state === "pending")
    lines.push({ label: "Expires in", value: formatDuration(Date.parse(view.expiresAt) - now()) });
  const grant = view.grantMs ? grantLabels(view, formatDuration(view.grantMs)) : undefined;
  if (grant && view.state === "pending") lines.push({ label: "Time-limited approval", value: grant.covers });
  const pending = view.state === "pending";
  const buttons: Card["buttons"] = pending
    ? [
        { label: "Approve", data: actionData(view.id, "approve"), style: "primary" },
        { label: "Deny", data: actionData(view.id, "deny"), style: "danger" },
        ...(grant
          ? [{ label: grant.label, shortLabel: grant.short, data: actionData(view.id, "grant") }]
          : []),
      ]
    : [];
  const reason = view.reason ? clean(view.reason, MAX_VALUE, true) : undefined;
  const body = clean(view.bodyPreview, MAX_BODY, true);
  const bodyHidden = Math.max(0, view.bodyHidden ?? 0) + body.hidden;
  return {
    title: `${agent} wants to ${method} ${titleTarget(view)}`,
    lines,
    agentSays: reason ? reason.text : null,
    ...(reason?.hidden ? { agentSaysHidden: reason.hidden } : {}),
    body: body.text !== "" || bodyHidden > 0 ? { text: body.text, hidden: bodyHidden } : null,
    link: opts.webBase ? fullRequestUrl(opts.webBase, view.id) : null,
    status: statusOf(view, nameOf),
    buttons,
  };
}

/** Host and path when short; a long path is not cut in the title but pointed to (the Request line). */
function titleTarget(view: ApprovalView): string {
  const host = clean(view.host, 256);
  const target = clean(`${view.host}${view.path}`, 100);
  return target.hidden === 0 ? target.text : `${host.text} (path in the Request line)`;
}

/** "application/json; charset=utf-8, gzip-encoded, 1234 bytes"; undefined for old rows without facts. */
function contentLine(view: ApprovalView): string | undefined {
  if (view.contentType === undefined && view.contentEncoding === undefined && view.bodyBytes === undefined)
    return undefined;
  const parts = [view.contentType ? clean(view.contentType, 200).text : "no content type"];
  if (view.contentEncoding) parts.push(`${clean(view.contentEncoding, 64).text}-encoded`);
  if (view.bodyBytes !== undefined) parts.push(`${view.bodyBytes} bytes`);
  return parts.join(", ");
}

/** The grant button says what it covers; `short` when a platform's label limit is too small. */
function grantLabels(view: ApprovalView, duration: string): { label: string; short: string; covers: string } {
  const covers = view.grantCovers ? clean(view.grantCovers, 300).text : "";
  if (!covers)
    return {
      label: `Approve for ${duration}`,
      short: `Approve for ${duration}`,
      covers: `approves this request for ${duration}`,
    };
  return {
    label: `Approve all ${covers} for ${duration}`,
    short: `Approve similar for ${duration}`,
    covers: `approves all ${covers} for ${duration}`,
  };
}

function statusOf(view: ApprovalView, nameOf: (id: string) => string): string {
  const names = (ids: readonly string[]): string =>
    ids
      .map((id) => clean(nameOf(id), 64))
      .map((n) => (n.hidden > 0 ? `${n.text}… (+${n.hidden})` : n.text))
      .join(", ");
  switch (view.state) {
    case "pending":
      return `Waiting for approval: ${view.approvals.length} of ${view.needed}`;
    case "approved":
    case "used":
      return `Approved by ${names(view.approvals)}`;
    case "denied":
      // A denial without a voter: nobody could be asked, or the request went away.
      return view.deniedBy ? `Denied by ${names([view.deniedBy])}` : "Withdrawn";
    case "expired":
      return "Expired";
    default:
      return "Closed";
  }
}

/** "15 min", "2 h", "45 s"; never negative. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 360) / 10} h`.replace(".0 h", " h");
  return `${Math.round(s / 8640) / 10} d`.replace(".0 d", " d");
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: same set, keeping newlines
const CONTROL_KEEP_NL_RE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

// Bounds on what a card carries (channels cut further, honestly, to their platform's limits).
const MAX_VALUE = 4000;
const MAX_BODY = 16_000;

const hiddenOf = (c: { hidden: number }): { hidden?: number } => (c.hidden > 0 ? { hidden: c.hidden } : {});

/** Strips control and bidi characters; cuts at `max`, reporting how many characters were cut. */
function clean(text: string, max: number, multiline = false): { text: string; hidden: number } {
  const out = text.replace(multiline ? CONTROL_KEEP_NL_RE : CONTROL_RE, multiline ? "" : " ");
  return out.length > max ? { text: out.slice(0, max), hidden: out.length - max } : { text: out, hidden: 0 };
}
