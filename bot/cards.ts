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
  const agent = clean(view.agent, 64);
  const target = clean(`${view.host}${view.path}`, 200);
  const lines: { label: string; value: string }[] = [
    { label: "Agent", value: agent },
    { label: "Request", value: clean(`${view.method} ${view.url}`, 400) },
    { label: "Policy", value: `${clean(view.policy, 64)} / ${clean(view.rule, 64)}` },
  ];
  if (view.state === "pending")
    lines.push({ label: "Expires in", value: formatDuration(Date.parse(view.expiresAt) - now()) });
  if (view.bodyPreview) lines.push({ label: "Body", value: clean(view.bodyPreview, 500, true) });
  const pending = view.state === "pending";
  const buttons: Card["buttons"] = pending
    ? [
        { label: "Approve", data: actionData(view.id, "approve"), style: "primary" },
        { label: "Deny", data: actionData(view.id, "deny"), style: "danger" },
        ...(view.grantMs
          ? [{ label: `Approve for ${formatDuration(view.grantMs)}`, data: actionData(view.id, "grant") }]
          : []),
      ]
    : [];
  return {
    title: `${agent} wants to ${clean(view.method, 16)} ${target}`,
    lines,
    agentSays: view.reason ? clean(view.reason, 500, true) : null,
    status: statusOf(view, nameOf),
    buttons,
  };
}

function statusOf(view: ApprovalView, nameOf: (id: string) => string): string {
  const names = (ids: readonly string[]): string => ids.map((id) => clean(nameOf(id), 64)).join(", ");
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

function clean(text: string, max: number, multiline = false): string {
  const out = text.replace(multiline ? CONTROL_KEEP_NL_RE : CONTROL_RE, multiline ? "" : " ");
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}
