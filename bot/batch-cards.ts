/**
 * The batch card: several held requests of one agent and policy on one message (DESIGN §6), and the
 * data of its "Approve all (N)" / "Deny all" buttons. Every item is the single card's honest content
 * (bot/cards.ts builds it, agent text cleaned and bounded there); decided items shrink to their title
 * and status. The all-buttons carry the batch id and the number of items DRAWN on this card, so a tap
 * covers exactly the first n requests the tapper saw, never one added by a later redraw. Untrusted:
 * the button data that comes back (parsed with one strict pattern, ≤ 64 bytes).
 */
import type { ApprovalView } from "../gateway/index.js";
import { type BuildCardOptions, buildCard } from "./cards.js";
import type { Card, CardItem } from "./channel.js";

export type BatchActionKind = "approve" | "deny";

/** A parsed "Approve all" / "Deny all" tap: the first `count` items of `batch`. */
export interface BatchAction {
  readonly batch: string;
  readonly count: number;
  readonly action: BatchActionKind;
}

// Batch ids are 12 base64url characters (bot/batches.ts); counts are small positive integers.
const BATCH_RE = /^b:([A-Za-z0-9_-]{8,24}):([1-9][0-9]{0,3}):(approve|deny)$/;
const MAX_DATA_BYTES = 64;

/** Button data for an action on the first `count` items of `batch`. */
export function batchActionData(batch: string, count: number, action: BatchActionKind): string {
  const data = `b:${batch}:${count}:${action}`;
  if (!BATCH_RE.test(data) || Buffer.byteLength(data) > MAX_DATA_BYTES)
    throw new Error("batch id does not fit in button data");
  return data;
}

/** Parses batch button data; undefined for anything that is not exactly what we send. */
export function parseBatchAction(data: unknown): BatchAction | undefined {
  if (typeof data !== "string" || Buffer.byteLength(data) > MAX_DATA_BYTES) return undefined;
  const m = BATCH_RE.exec(data);
  if (!m?.[1] || !m[2] || !m[3]) return undefined;
  return { batch: m[1], count: Number(m[2]), action: m[3] as BatchActionKind };
}

/**
 * The card for `views` (the batch's items in order, all of them: the card always draws every item,
 * so its all-buttons cover `views.length`). A batch of one is an ordinary single card. `from`: the
 * batch position of `views[0]`, for numbering, where a frozen card message shows a later slice
 * (channels whose gestures carry no count, bot/batch-drawer.ts).
 */
export function buildBatchCard(
  batch: string,
  views: readonly ApprovalView[],
  opts: BuildCardOptions = {},
  from = 0,
): Card {
  const first = views[0];
  if (!first) throw new Error("an empty batch has no card");
  if (views.length === 1) return buildCard(first, opts);
  const items: CardItem[] = views.map((view, i) => {
    const single = buildCard(view, opts);
    const title = `${from + i + 1}. ${single.title}`;
    if (view.state !== "pending")
      return {
        title,
        lines: [],
        agentSays: null,
        body: null,
        link: single.link ?? null,
        status: single.status,
        buttons: [],
      };
    return {
      title,
      lines: single.lines,
      agentSays: single.agentSays,
      ...(single.agentSaysHidden ? { agentSaysHidden: single.agentSaysHidden } : {}),
      body: single.body ?? null,
      link: single.link ?? null,
      status: single.status,
      buttons: single.buttons.map((b) => ({
        ...b,
        label: `${from + i + 1}: ${b.label}`,
        ...(b.shortLabel ? { shortLabel: `${from + i + 1}: ${b.shortLabel}` } : {}),
      })),
    };
  });
  const pending = views.filter((v) => v.state === "pending").length;
  const n = views.length;
  const head = buildCard(first, opts);
  const agentLine = head.lines.find((l) => l.label === "Agent");
  const policyLine = head.lines.find((l) => l.label === "Policy");
  const policy = policyLine ? policyLine.value.split(" / ")[0] : "";
  return {
    title: `${agentLine?.value ?? "agent"} wants to make ${n} requests (policy ${policy})`,
    lines: [
      ...(agentLine ? [agentLine] : []),
      { label: "Requests", value: `${n} on this card, ${pending} waiting; each is listed below` },
      {
        label: "Approve all",
        value: `votes on exactly the ${n} requests listed here that still wait; a request added later gets its own buttons`,
      },
    ],
    agentSays: null,
    body: null,
    link: null,
    status: pending > 0 ? `Waiting: ${pending} of ${n}` : `All ${n} decided`,
    buttons:
      pending > 0
        ? [
            {
              label: `Approve all (${pending})`,
              data: batchActionData(batch, n, "approve"),
              style: "primary",
            },
            { label: `Deny all (${pending})`, data: batchActionData(batch, n, "deny"), style: "danger" },
          ]
        : [],
    items,
  };
}
