/**
 * A whole bot on fakes, for tests: two fake channels ("fake" and "tg"), the bot store on ":memory:",
 * and a fake ControlPort whose approvals are the REAL gateway engine (createApprovals over an in-memory
 * SqliteStore), so quorum, 403 and 409 behave exactly as in production.
 */
import { createApprovals } from "../../gateway/approvals.js";
import { createPolicyReplay, openDatabase, openSqliteStore, testPolicy } from "../../gateway/index.js";
import type { ApprovalView } from "../../gateway/index.js";
import { compilePolicies, formatIssues, type PolicySet } from "../../policies/index.js";
import { createBot } from "../../bot/bot.js";
import type { Channel } from "../../bot/channel.js";
import { createBotStore, type Role } from "../../bot/bot-store.js";
import type { ControlPort } from "../../bot/control-port.js";
import { createFakeChannel } from "../fakes/fake-channel.js";
import { createManualClock } from "../fakes/manual-clock.js";

export const GOOD_POLICY =
  "hosts: [api.example.test]\nrules:\n  - name: read\n    methods: [GET]\n    action: allow\n";

/** Builds the world; `now` is a settable clock shared by the engine, the bot and the store. */
export function createBotWorld(opts: { channels?: readonly Channel[]; batchWindowMs?: number } = {}) {
  const clock = { t: Date.parse("2030-01-01T00:00:00Z") };
  const now = (): number => clock.t;
  // Timers (expiry, escalation, reminders, quiet hours) fire only when a test calls `advance`.
  const timers = createManualClock(clock.t, clock);
  const gwStore = openSqliteStore(":memory:");
  const auditLog: Record<string, unknown>[] = [];
  const logs: { event: string; fields: Record<string, unknown> }[] = [];
  const log = (event: string, fields: Record<string, unknown> = {}): void =>
    void logs.push({ event, fields });
  const fake = createFakeChannel({ platform: "fake" });
  const tg = createFakeChannel({ platform: "tg", canDelete: false });
  const store = createBotStore(openDatabase(":memory:"), { now });
  // The engine needs the bot (approver, roles) and the bot needs the engine (control): tie the knot lazily.
  let bot: ReturnType<typeof createBot> | undefined;
  let idSeq = 0;
  const approvals = createApprovals({
    store: gwStore,
    audit: (e) => {
      auditLog.push(e);
      gwStore.appendAudit(e, now());
    },
    approver: {
      requested: (v) => (bot as NonNullable<typeof bot>).approver.requested(v),
      updated: (v) => (bot as NonNullable<typeof bot>).approver.updated(v),
      escalated: (v) => (bot as NonNullable<typeof bot>).approver.escalated(v),
      remind: (v) => (bot as NonNullable<typeof bot>).approver.remind(v),
    },
    roles: { hasRole: (id, role) => (bot as NonNullable<typeof bot>).roles.hasRole(id, role) },
    now,
    schedule: timers.schedule,
    newId: () => `00000000-0000-4000-8000-${String(++idSeq).padStart(12, "0")}`,
  });

  const told: { agent: string; text: string; from: string }[] = [];
  const secrets = new Map<string, string>();
  const policyFiles = new Map<string, string>([["example", GOOD_POLICY]]);
  const agents = new Map<string, { name: string; state: string; provider: string }>();
  const compiled = (): PolicySet => {
    const r = compilePolicies([...policyFiles].map(([n, text]) => ({ file: `${n}.yaml`, text })));
    if (!r.ok) throw new Error(formatIssues(r.issues));
    return r.set;
  };
  const control: ControlPort = {
    listApprovals: (state) => approvals.list(state),
    getApproval: (id) => approvals.get(id),
    decide: (id, input) => approvals.decide(id, input),
    async startAgent(name, provider) {
      const info = { name, state: "running", provider };
      agents.set(name, info);
      return info;
    },
    stopAgent: async (name) => agents.delete(name),
    listAgents: async () => [...agents.values()],
    agentLogs: async (name) => `logs of ${name}`,
    tellAgent: async (agent, text, from) => void told.push({ agent, text, from }),
    answerAgent: () => false,
    listPolicies: () => compiled().policies.map((p) => ({ name: p.name, file: p.file, hosts: p.hosts })),
    readPolicy: async (name) => policyFiles.get(name),
    async writePolicy(name, yaml) {
      const others = [...policyFiles]
        .filter(([n]) => n !== name)
        .map(([n, text]) => ({ file: `${n}.yaml`, text }));
      const r = compilePolicies([...others, { file: `${name}.yaml`, text: yaml }]);
      if (!r.ok) return { ok: false, errors: formatIssues(r.issues) };
      policyFiles.set(name, yaml);
      return { ok: true };
    },
    testPolicy: (agent, method, url) => testPolicy(compiled(), agent, method, url),
    // The real replay over this world's audit and in-memory policy files.
    replayPolicy: createPolicyReplay({
      files: async () => [...policyFiles].map(([n, text]) => ({ file: `${n}.yaml`, text })),
      store: gwStore,
      current: compiled,
      now,
    }),
    reloadPolicies: async () => ({ ok: true }),
    setSecret: async (name, value) => void secrets.set(name, value),
    listSecrets: async () => [...secrets.keys()],
    deleteSecret: async (name) => secrets.delete(name),
    listAudit: (after, limit) => gwStore.listAudit(after, limit),
  };
  bot = createBot({
    channels: [fake.channel, tg.channel, ...(opts.channels ?? [])],
    control,
    store,
    log,
    botName: "warden_bot",
    now,
    schedule: timers.schedule,
    // One card per request unless a test is about batching (bot/batches.ts; production default 5 s).
    batchWindowMs: opts.batchWindowMs ?? 0,
  });

  return {
    clock,
    /** Moves the clock forward by `ms`, firing the engine's and the bot's timers due on the way. */
    advance: (ms: number) => timers.advance(ms),
    fake,
    tg,
    store,
    control,
    approvals,
    bot,
    told,
    secrets,
    policyFiles,
    auditLog,
    logs,
    /** The gateway store behind `control.listAudit` (tests append audited request rows). */
    gwStore,
    /** A known person with `role` on the "fake" platform (user id `userId`). */
    person(userId: string, role: Role, name = `user ${userId}`) {
      return store.createPerson(`fake:${userId}`, name, role);
    },
    /** Holds a request needing `needed` of `approvers`; resolves once the cards went out. */
    async hold(
      opts: {
        approvers?: string[];
        needed?: number;
        grantMs?: number | null;
        timeoutMs?: number;
        agent?: string;
        escalate?: { afterMs: number; to: string[] };
      } = {},
    ) {
      const before = idSeq;
      const outcome = approvals.hold({
        fingerprint: `fp-${before + 1}`,
        agent: opts.agent ?? "demo",
        method: "POST",
        url: "https://api.example.test/v1/things",
        host: "api.example.test",
        path: "/v1/things",
        policy: "example",
        rule: "write",
        bodyPreview: '{"name":"x","token":"****"}',
        reason: "to create a thing",
        needed: opts.needed ?? 1,
        approvers: opts.approvers ?? ["role:approver"],
        grantMs: opts.grantMs === undefined ? 15 * 60_000 : opts.grantMs,
        timeoutMs: opts.timeoutMs ?? 5 * 60_000,
        ...(opts.escalate && { escalate: opts.escalate }),
      });
      await settle();
      const view = (await approvals.get(
        `00000000-0000-4000-8000-${String(before + 1).padStart(12, "0")}`,
      )) as ApprovalView;
      return { outcome, view };
    },
  };
}

/** Lets queued promise chains (card sends, updates) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

export type BotWorld = ReturnType<typeof createBotWorld>;
