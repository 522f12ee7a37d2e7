/**
 * The control API (DESIGN.md §3, contract). Untrusted: every request body and path segment. Every
 * route needs the bearer token from control.token (compared in constant time); bodies are parsed with
 * zod and capped; secret values go in and never come out (only names are listed).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import http, { type ServerResponse } from "node:http";
import { z } from "zod";
import { readJson } from "./read-json.js";
import { formatIssues, type PolicySet } from "../policies/index.js";
import type { Approvals } from "./approvals.js";
import { AGENT_NAME, type Credentials, SECRET_NAME } from "./credentials.js";
import { type HeldRequestView, heldRequestView } from "./held-request.js";
import type { Binding } from "./inject.js";
import type { Mailbox } from "./mailbox.js";
import type { Metrics } from "./metrics.js";
import type { ReplayInput, ReplayOutcome } from "./policy-replay.js";
import { testPolicy } from "./policy-test.js";
import type { ReloadResult } from "./policy-source.js";
import type { Store } from "./store.js";

/** Hooks `warden start` adds so the same endpoints also start and stop containers. */
export interface AgentHooks {
  started?(name: string, provider: string | undefined): Promise<Record<string, unknown>>;
  stopped?(name: string): Promise<void>;
  describe?(name: string): Promise<Record<string, unknown>>;
  exec?(name: string, cmd: readonly string[]): Promise<{ exitCode: number; output: string }>;
  logs?(name: string): Promise<string>;
}

export interface ControlDeps {
  readonly token: string;
  readonly store: Store;
  readonly credentials: Credentials;
  readonly approvals: Approvals;
  readonly metrics: Metrics;
  readonly policies: { readonly set: PolicySet; reload(): Promise<ReloadResult> };
  /** Env an agent process needs, placeholders included. */
  readonly agentEnv: (name: string, token: string) => Promise<Record<string, string>>;
  readonly audit: (entry: Record<string, unknown>) => void;
  readonly hooks?: AgentHooks;
  readonly mailbox: Mailbox;
  /** Policy replay (`POST /v1/policies/test` with `replay`); absent = 501. */
  readonly replay?: (input: ReplayInput) => Promise<ReplayOutcome>;
  /** This replica's facts for `GET /v1/health` (DESIGN §8). */
  readonly health?: () => { replica: string; store: "sqlite" | "postgres"; leader: boolean };
}

const NewAgent = z.strictObject({
  name: z.string().regex(AGENT_NAME),
  provider: z.string().max(32).optional(),
});
const SecretBody = z.strictObject({
  value: z
    .string()
    .min(1)
    .max(64 * 1024),
});
const Decision = z.strictObject({
  decision: z.enum(["approve", "deny"]),
  by: z.string().regex(/^[a-z][a-z0-9_-]{0,31}:[^\s]{1,128}$/, "must be <platform>:<userId>"),
  scope: z.enum(["once", "grant"]).default("once"),
});
const Message = z.strictObject({
  text: z
    .string()
    .min(1)
    .max(64 * 1024),
  from: z.string().max(160).optional(),
});
const Exec = z.strictObject({ cmd: z.array(z.string().max(4096)).min(1).max(256) });
const Answer = z.strictObject({
  answer: z
    .string()
    .min(1)
    .max(64 * 1024),
});
const PolicyTest = z.strictObject({
  agent: z.string().regex(AGENT_NAME),
  method: z.string().max(16),
  url: z.string().max(8192),
});
/** The replay form of `POST /v1/policies/test`: `{"policy","yaml"?,"replay":"24h","examples"?}`. */
const PolicyReplay = z.strictObject({
  policy: z.string().max(63),
  yaml: z
    .string()
    .max(256 * 1024)
    .optional(),
  replay: z.unknown(),
  examples: z.number().int().min(0).max(20).optional(),
});

const ROUTES = new Set(["GET /v1/audit/verify", "POST /v1/policies/reload", "POST /v1/policies/test"]);

type Reply = { status: number; body?: unknown; text?: string };
const fail = (status: number, code: string, message: string, extra: object = {}): Reply => ({
  status,
  body: { error: { code, message, ...extra } },
});

/** Creates the control API server (not yet listening). */
export function createControlServer(deps: ControlDeps): http.Server {
  const expected = createHash("sha256").update(`Bearer ${deps.token}`).digest();
  return http.createServer((req, res) => {
    const given = createHash("sha256")
      .update(req.headers.authorization ?? "")
      .digest();
    if (!timingSafeEqual(given, expected))
      return send(res, fail(401, "unauthorized", "bearer token required"));
    readJson(req, 1024 * 1024)
      .then((body) => route(deps, req.method ?? "GET", new URL(req.url ?? "/", "http://control"), body))
      .then((reply) => send(res, reply))
      .catch((err: Error & { code?: unknown; resource?: unknown }) =>
        // The agent runtime could not run agents safely (e.g. no right to create the NetworkPolicy):
        // 503 naming what it could not create; nothing was started.
        err.code === "runtime_unavailable"
          ? send(res, fail(503, "runtime_unavailable", err.message, { resource: String(err.resource ?? "") }))
          : send(res, fail(400, "bad_request", err.message)),
      );
  });
}

async function route(deps: ControlDeps, method: string, url: URL, body: unknown): Promise<Reply> {
  const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  // Literal routes (/v1/audit/verify) win over parameter routes (/v1/agents/:name).
  const literal = `${method} /${parts.join("/")}`;
  const key = ROUTES.has(literal)
    ? literal
    : `${method} /${parts.map((p, i) => (i === 2 || i === 4 ? ":" : p)).join("/")}`;
  const id = parts[2] ?? "";
  const parse = <T>(schema: z.ZodType<T>): T | Reply => {
    const r = schema.safeParse(body ?? {});
    return r.success ? r.data : fail(400, "bad_request", z.prettifyError(r.error));
  };
  switch (key) {
    case "GET /v1/health":
      return { status: 200, body: { ok: true, ...deps.health?.() } };
    case "GET /metrics":
      return { status: 200, text: deps.metrics.render() };
    case "POST /v1/agents": {
      const b = parse(NewAgent);
      if ("status" in b) return b;
      const token = await deps.credentials.issueToken(b.name);
      const extra = (await deps.hooks?.started?.(b.name, b.provider)) ?? {};
      deps.audit({ type: "agent_created", agent: b.name });
      return {
        status: 201,
        body: { name: b.name, token, env: await deps.agentEnv(b.name, token), ...extra },
      };
    }
    case "GET /v1/agents":
      return {
        status: 200,
        body: await Promise.all(
          (await deps.store.listAgents()).map(async (a) => ({
            name: a.name,
            createdAt: new Date(a.createdAt).toISOString(),
            status: deps.mailbox.status(a.name) ?? null,
            ...((await deps.hooks?.describe?.(a.name)) ?? {}),
          })),
        ),
      };
    case "DELETE /v1/agents/:": {
      await deps.hooks?.stopped?.(id);
      await deps.mailbox.forget(id);
      if (!(await deps.credentials.removeAgent(id))) return fail(404, "not_found", `no agent ${id}`);
      deps.audit({ type: "agent_deleted", agent: id });
      return { status: 204 };
    }
    case "POST /v1/agents/:/messages": {
      if (!(await deps.credentials.hasAgent(id))) return fail(404, "not_found", `no agent ${id}`);
      const b = parse(Message);
      if ("status" in b) return b;
      return { status: 202, body: { id: await deps.mailbox.deliver(id, b.text, b.from ?? null) } };
    }
    case "GET /v1/agents/:/outbox":
      return {
        status: 200,
        body: await deps.mailbox.outbox(id, Number(url.searchParams.get("after") ?? 0) || 0),
      };
    case "POST /v1/agents/:/exec": {
      const b = parse(Exec);
      if ("status" in b) return b;
      if (!deps.hooks?.exec) return fail(501, "no_runtime", "this gateway runs no agent containers");
      deps.audit({ type: "agent_exec", agent: id, cmd: b.cmd[0] });
      return { status: 200, body: await deps.hooks.exec(id, b.cmd) };
    }
    case "GET /v1/agents/:/logs": {
      if (!deps.hooks?.logs) return fail(501, "no_runtime", "this gateway runs no agent containers");
      return { status: 200, text: await deps.hooks.logs(id) };
    }
    case "GET /v1/agents/:/asks":
      return { status: 200, body: deps.mailbox.asks(id) };
    case "POST /v1/agents/:/asks/:": {
      const b = parse(Answer);
      if ("status" in b) return b;
      const ok = deps.mailbox.answer(id, parts[4] ?? "", b.answer);
      return ok ? { status: 204 } : fail(404, "not_found", "no such open question");
    }
    case "PUT /v1/secrets/:": {
      if (!SECRET_NAME.test(id)) return fail(400, "bad_request", "secret names look like GITHUB_TOKEN");
      const b = parse(SecretBody);
      if ("status" in b) return b;
      await deps.credentials.setSecret(id, b.value);
      deps.audit({ type: "secret_set", secret: id });
      return { status: 204 };
    }
    case "GET /v1/secrets":
      return { status: 200, body: await deps.credentials.listSecrets() };
    case "DELETE /v1/secrets/:": {
      if (!(await deps.credentials.deleteSecret(id))) return fail(404, "not_found", `no secret ${id}`);
      deps.audit({ type: "secret_deleted", secret: id });
      return { status: 204 };
    }
    case "GET /v1/approvals": {
      const state = url.searchParams.get("state");
      const states = ["pending", "approved", "denied", "expired", "used"] as const;
      if (state && !states.includes(state as never))
        return fail(400, "bad_request", `state is one of ${states.join(", ")}`);
      return {
        status: 200,
        body: await deps.approvals.list((state ?? undefined) as (typeof states)[number] | undefined),
      };
    }
    case "GET /v1/approvals/:": {
      const a = await deps.approvals.get(id);
      return a ? { status: 200, body: a } : fail(404, "not_found", "no such approval");
    }
    case "GET /v1/approvals/:/request": {
      // The whole held request for the page approvers decide on: secrets named, never shown.
      const view = await heldRequestOf(deps, id);
      return view ? { status: 200, body: view } : fail(404, "not_found", "no such approval");
    }
    case "POST /v1/approvals/:/decision": {
      const b = parse(Decision);
      if ("status" in b) return b;
      const r = await deps.approvals.decide(id, b);
      return r.ok ? { status: 200, body: r.approval } : fail(r.status, r.code, r.message);
    }
    case "POST /v1/policies/reload": {
      const r = await deps.policies.reload();
      if (r.ok) return { status: 200, body: { ok: true, policies: r.policies } };
      return fail(422, "policy_invalid", formatIssues(r.issues), { issues: r.issues });
    }
    case "GET /v1/policies":
      return {
        status: 200,
        body: deps.policies.set.policies.map((p) => ({
          name: p.name,
          file: p.file,
          hosts: p.hosts,
          default: p.default,
        })),
      };
    case "POST /v1/policies/test": {
      if (typeof body === "object" && body !== null && "replay" in body)
        return replayPolicy(deps, parse(PolicyReplay));
      const b = parse(PolicyTest);
      if ("status" in b) return b;
      const r = testPolicy(deps.policies.set, b.agent, b.method, b.url);
      return "error" in r ? fail(400, "bad_request", r.error) : { status: 200, body: r };
    }
    case "GET /v1/audit": {
      const after = Number(url.searchParams.get("after") ?? 0);
      const limit = Math.min(Number(url.searchParams.get("limit") ?? 1000), 10_000);
      if (!Number.isInteger(after) || !Number.isInteger(limit) || limit < 1)
        return fail(400, "bad_request", "after and limit are integers");
      return { status: 200, body: await deps.store.listAudit(after, limit) };
    }
    case "GET /v1/audit/verify": {
      const v = await deps.store.verifyAudit();
      return {
        status: 200,
        body: v.ok ? v : { ok: false, entries: v.entries, seq: v.badSeq, problem: v.problem },
      };
    }
    default:
      return fail(404, "not_found", `no route ${method} ${url.pathname}`);
  }
}

/** `POST /v1/policies/test` with a replay window: what the edited policy would have decided. */
async function replayPolicy(deps: ControlDeps, b: z.infer<typeof PolicyReplay> | Reply): Promise<Reply> {
  if ("status" in b) return b;
  if (!deps.replay) return fail(501, "no_replay", "this gateway cannot replay policies");
  // A window that is not a string is as bad as "forever": both answer `bad_window`.
  const window = typeof b.replay === "string" ? b.replay : "";
  const r = await deps.replay({ policy: b.policy, yaml: b.yaml, window, examples: b.examples });
  if (r.ok) return { status: 200, body: r.report };
  return fail(r.status, r.code, r.message, r.issues ? { issues: r.issues } : {});
}

/**
 * The whole held request behind approval `id` (`GET /v1/approvals/{id}/request`): every real value
 * and placeholder of any secret the agent may use is shown as `[secret NAME]`. `body` is null once the
 * approval is settled (its body is deleted then). Undefined for an unknown id.
 */
export async function heldRequestOf(
  deps: Pick<ControlDeps, "approvals" | "store" | "credentials">,
  id: string,
): Promise<HeldRequestView | undefined> {
  const held = await deps.approvals.held(id);
  if (!held) return undefined;
  const placeholders = await deps.store.placeholdersOf(held.record.agent);
  const bindings: Binding[] = [];
  for (const [placeholder, secret] of placeholders) {
    const value = await deps.credentials.secret(secret);
    if (value) bindings.push({ placeholder, value });
  }
  return heldRequestView(held.record, held.body, placeholders, bindings);
}

function send(res: ServerResponse, r: Reply): void {
  if (r.status === 204) return void res.writeHead(204).end();
  if (r.text !== undefined) {
    res.writeHead(r.status, { "content-type": "text/plain; version=0.0.4" });
    return void res.end(r.text);
  }
  const body = JSON.stringify(r.body);
  res.writeHead(r.status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(body);
}
