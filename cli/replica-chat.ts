/**
 * Chat on replicas (DESIGN §8). On PostgreSQL, one replica — the leader — draws every card and runs
 * the single-consumer chat connections (Telegram polling, Discord gateway, WhatsApp Web, Matrix
 * sync, IMAP IDLE, X polling); the others hand their approvals over through the store: their
 * gateway's Approver only announces, and the leader, hearing each change of an approval, sends,
 * updates, escalates or reminds as the row says. If the leader can reach no approver it refuses the
 * approval, which releases (denies) the request wherever it waits. Taps and commands from webhook
 * platforms and the web chat are served by whichever replica they reach: decisions go through the
 * shared store. A lost leader stops its consumers at once; the next one takes over.
 */
import type { Channel } from "../bot/channel.js";
import {
  type ApprovalRecord,
  type Approver,
  type Leadership,
  type Log,
  type Store,
  toView,
} from "../gateway/index.js";
import { z } from "zod";

/** Platforms whose connection admits one consumer per account: run on the leader only. */
export const SINGLE_CONSUMER = new Set(["telegram", "discord", "whatsapp", "matrix", "email", "x"]);

const ALERTS_TOPIC = "alerts";
const APPROVALS_TOPIC = "approvals";
const Alert = z.strictObject({
  kind: z.enum(["secret_host_mismatch", "secret_misplaced"]),
  agent: z.string().max(200),
  host: z.string().max(300),
  message: z.string().max(2000),
});

/** A channel that is started only while this replica leads, and stopped the moment it does not. */
export function leaderOnly(channel: Channel, lead: () => Leadership, log: Log): Channel {
  let handler: Parameters<Channel["start"]>[0] | undefined;
  let running = false;
  let off: (() => void) | undefined;
  const follow = async (leader: boolean): Promise<void> => {
    if (!handler) return;
    if (leader && !running) {
      running = true;
      await channel.start(handler).catch((err: unknown) => {
        running = false;
        log("chat_start_failed", { platform: channel.platform, error: (err as Error).name });
      });
    } else if (!leader && running) {
      running = false;
      await channel.stop().catch(() => undefined);
    }
  };
  return Object.assign(Object.create(channel) as Channel, {
    async start(h: Parameters<Channel["start"]>[0]) {
      handler = h;
      off = lead().onChange((leader) => void follow(leader));
      await follow(lead().isLeader());
    },
    async stop() {
      off?.();
      handler = undefined;
      if (running) {
        running = false;
        await channel.stop();
      }
    },
  });
}

/**
 * The gateway's Approver on a replica, and the leader's relay to the real (chat) Approver. `start`
 * after the gateway is up; every replica runs both halves, only the leader's relay acts.
 */
export function replicaApprovals(o: {
  /** The running gateway's parts (read after it started). */
  readonly gateway: () => {
    readonly store: Pick<Store, "listen" | "notify" | "getApproval" | "listApprovals">;
    readonly leadership: Leadership;
    readonly approvals: { refuse(id: string, event: string): Promise<boolean> };
  };
  readonly chat: Approver;
  readonly hasCards: (id: string) => Promise<boolean>;
  readonly log: Log;
}) {
  const store = () => o.gateway().store;
  const lead = () => o.gateway().leadership;
  const seen = new Map<string, ApprovalRecord>();
  let queue: Promise<void> = Promise.resolve();
  const offs: (() => void)[] = [];

  async function relay(id: string): Promise<void> {
    if (!lead().isLeader()) return;
    const rec = await store().getApproval(id);
    if (!rec) return;
    const prev = seen.get(id);
    seen.set(id, rec);
    const view = toView(rec);
    if (!prev && rec.state === "pending") {
      if (await o.hasCards(id)) return; // drawn by a leader before us
      try {
        await o.chat.requested(view);
      } catch {
        // Nobody could be told: nobody can say yes. Denied where the request waits.
        await o.gateway().approvals.refuse(id, "approval_undeliverable");
      }
      return;
    }
    if (rec.escalatedAt !== undefined && prev?.escalatedAt === undefined) {
      await o.chat.escalated?.(view).catch(() => undefined);
    } else if (rec.remindedAt !== undefined && prev?.remindedAt === undefined) {
      await o.chat.remind?.(view).catch(() => undefined);
      return;
    }
    await o.chat.updated?.(view).catch(() => undefined);
    if (rec.state !== "pending" && rec.state !== "approved") seen.delete(id);
  }
  const enqueue = (id: string): void => {
    queue = queue.then(() => relay(id)).catch(() => undefined);
  };

  const approver: Approver = {
    // Announced by the approvals engine on every change already; the leader's relay draws the card.
    requested: async () => undefined,
    updated: async () => undefined,
    escalated: async () => undefined,
    remind: async () => undefined,
    alert: async (event) => void (await store().notify(ALERTS_TOPIC, JSON.stringify(event))),
  };

  return {
    approver,
    start(): void {
      offs.push(store().listen(APPROVALS_TOPIC, enqueue));
      offs.push(
        store().listen(ALERTS_TOPIC, (text) => {
          if (!lead().isLeader()) return;
          try {
            void o.chat.alert?.(Alert.parse(JSON.parse(text))).catch(() => undefined);
          } catch {
            o.log("alert_malformed", {});
          }
        }),
      );
      // A new leader catches up: approvals still waiting get their cards unless they have some.
      const catchUp = async (): Promise<void> => {
        for (const r of await store().listApprovals("pending")) enqueue(r.id);
      };
      offs.push(lead().onChange((leader) => void (leader ? catchUp() : seen.clear())));
      if (lead().isLeader()) void catchUp();
    },
    stop(): void {
      for (const off of offs.splice(0)) off();
    },
  };
}
