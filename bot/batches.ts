/**
 * Which batch card a held request joins (DESIGN §6, no approval fatigue). Requests of one agent, for
 * one policy and the same approvers, that arrive within the window of each other share one card per
 * chat; each stays its own gateway approval (quorum, approvers, fingerprint unchanged). Membership is
 * append-only and kept in the bot store, so "the first n items" of a batch means the same requests
 * after a restart: an "Approve all" tap carries n and can never cover a request added after the card
 * it was tapped on was drawn. Untrusted: nothing here reads agent input except the view's agent and
 * policy names, used only as an opaque grouping key.
 */
import { randomBytes } from "node:crypto";
import type { ApprovalView } from "../gateway/index.js";
import type { BotStore } from "./bot-store.js";

/** The default window: a request joins a batch whose last request arrived at most this long ago. */
export const DEFAULT_BATCH_WINDOW_MS = 5000;
/**
 * At most this many requests on one card: beyond it a new card starts, so each card stays readable
 * and within platform limits (Telegram 4096 characters, Slack 50 blocks, Discord 6000-character embeds).
 */
export const MAX_BATCH_ITEMS = 20;
/** Longest window accepted from configuration (one hour): longer means one stale card collects all. */
export const MAX_BATCH_WINDOW_MS = 3_600_000;

/** Where a held request landed: a new batch (`seq` 0) or position `seq` of an open one. */
export type BatchJoin =
  | { readonly kind: "single" }
  | { readonly kind: "batch"; readonly batch: string; readonly seq: number };

export interface BatchesOptions {
  readonly store: BotStore;
  /** 0 disables batching: every request gets its own card. */
  readonly windowMs: number;
  readonly now: () => number;
  /** Whether an approval is still waiting; a batch whose items are all decided takes no more. */
  readonly isPending: (approvalId: string) => boolean | Promise<boolean>;
  readonly maxItems?: number;
}

/** The grouping key: same agent, same policy, same approver entries (so the same people see it). */
export function batchKey(view: Pick<ApprovalView, "agent" | "policy" | "approvers">): string {
  return JSON.stringify([view.agent, view.policy, [...view.approvers].sort()]);
}

/** A short, unguessable batch id for button data (`b:<id>:<n>:approve` stays far below 64 bytes). */
export function newBatchId(): string {
  return randomBytes(9).toString("base64url");
}

/**
 * The batch window from configuration text (`WARDEN_BATCH_WINDOW_MS`): a whole number of
 * milliseconds, 0 to disable; absent or empty = the default. Anything else is an error, not a guess.
 */
export function parseBatchWindow(text: string | undefined): number {
  if (text === undefined || text.trim() === "") return DEFAULT_BATCH_WINDOW_MS;
  if (!/^\d{1,7}$/.test(text.trim())) throw new Error("WARDEN_BATCH_WINDOW_MS must be a whole number of ms");
  const ms = Number(text.trim());
  if (ms > MAX_BATCH_WINDOW_MS)
    throw new Error(`WARDEN_BATCH_WINDOW_MS must be at most ${MAX_BATCH_WINDOW_MS}`);
  return ms;
}

/** Creates the batch tracker over the bot store. */
export function createBatches(opts: BatchesOptions) {
  const { store, windowMs, now, isPending } = opts;
  const maxItems = opts.maxItems ?? MAX_BATCH_ITEMS;
  // Joins run one at a time: the store is async, so without this two arrivals could both read the
  // open batch before either appends, and both take its last free place.
  let joining: Promise<unknown> = Promise.resolve();

  async function joinNow(view: ApprovalView): Promise<BatchJoin> {
    if (windowMs <= 0) return { kind: "single" };
    const existing = await store.batchOf(view.id);
    if (existing)
      return { kind: "batch", batch: existing, seq: (await store.batchItems(existing)).indexOf(view.id) };
    const key = batchKey(view);
    const at = now();
    const open = await store.latestBatch(key);
    const joinable =
      open !== undefined &&
      at - open.lastAt <= windowMs &&
      at >= open.lastAt &&
      open.size < maxItems &&
      (await anyPending(await store.batchItems(open.id)));
    const batch = joinable ? open.id : newBatchId();
    return { kind: "batch", batch, seq: await store.addBatchItem(batch, key, view.id, at) };
  }

  async function anyPending(ids: readonly string[]): Promise<boolean> {
    for (const id of ids) if (await isPending(id)) return true;
    return false;
  }

  return {
    windowMs,
    /**
     * Puts a new held request on a card: the open batch of its key when the last request arrived
     * within the window, the batch is not full and something on it still waits; else a new batch.
     * Joins are serialised (one read-to-write at a time in this process), so two arrivals cannot
     * both take the last free place.
     */
    join(view: ApprovalView): Promise<BatchJoin> {
      const p = joining.then(() => joinNow(view));
      joining = p.catch(() => undefined);
      return p;
    },
    /** The batch an approval is on, if any. */
    of(approvalId: string): Promise<string | undefined> {
      return store.batchOf(approvalId);
    },
    /** Its approvals, in the order they joined (append-only). */
    items(batch: string): Promise<string[]> {
      return store.batchItems(batch);
    },
  };
}

export type Batches = ReturnType<typeof createBatches>;
