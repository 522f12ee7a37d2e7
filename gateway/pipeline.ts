/**
 * The decision path every agent request takes, in order: parse → placeholders bound for the right
 * host → policy → rate limit → address check → approval → swap. Untrusted: the whole request.
 * Each step can only refuse; a request reaches `forward` only with an allow (or approved) decision,
 * a vetted address, and real values swapped in for secrets its host's policy lists.
 */
import type { IncomingMessage } from "node:http";
import {
  canonicalBody,
  evaluate,
  findPolicy,
  methodOverrides,
  type PlacementInput,
  type PolicySet,
  placeSecrets,
  type SecretPlacement,
  strictest,
} from "../policies/index.js";
import type { ResolveTargetOptions } from "./address.js";
import { resolveTarget } from "./address.js";
import type { Approvals } from "./approvals.js";
import { awaitApproval } from "./await-approval.js";
import type { Credentials } from "./credentials.js";
import { GatewayError } from "./errors.js";
import { endToEnd, getHeader, type HeaderPairs, pairsOf, setHeader } from "./headers.js";
import { type Binding, findPlaceholders, swap } from "./inject.js";
import type { RateLimiter } from "./rate-limit.js";
import { hostHeader, type Target } from "./target.js";

/** What the pipeline needs from the running gateway. */
export interface PipelineContext {
  readonly policies: { readonly set: PolicySet };
  readonly credentials: Credentials;
  readonly approvals: Approvals;
  readonly rateLimit: RateLimiter;
  readonly resolve: Omit<ResolveTargetOptions, "allowPrivate">;
  /** Largest body the gateway buffers (for body rules, approvals, body swaps). */
  readonly maxBodyBytes: number;
}

/** A request cleared to go upstream. */
export interface Cleared {
  readonly address: string;
  readonly port: number;
  readonly pathAndQuery: string;
  readonly headers: HeaderPairs;
  /** Set when the body was buffered; otherwise stream the request itself. */
  readonly body?: Buffer;
  /** Secrets to scrub from the response. */
  readonly bindings: readonly Binding[];
  readonly audit: Record<string, unknown>;
}

const TEXTUAL = /^(text\/|application\/(json|xml|x-www-form-urlencoded|[a-z0-9.+-]*\+(json|xml))|$)/i;

/** Runs every check; throws `GatewayError` for a refusal (the caller turns it into the response). */
export async function clear(
  ctx: PipelineContext,
  req: { agent: string; method: string; target: Target; pathAndQuery: string; message: IncomingMessage },
  /** The agent's hang-up, asked for only when a request is held (built lazily by the caller). */
  hangup: () => AbortSignal,
): Promise<Cleared> {
  const { agent, method, target } = req;
  const set = ctx.policies.set;
  const q = req.pathAndQuery.indexOf("?");
  const path = q >= 0 ? req.pathAndQuery.slice(0, q) : req.pathAndQuery;
  const base = { agent, method, host: target.host, port: target.port, path };
  const policy = findPolicy(set, agent, target.host);
  const fail = (code: ConstructorParameters<typeof GatewayError>[0], message: string, more = {}) =>
    new GatewayError(code, message, { policy: policy?.name, ...more });

  let headers = endToEnd(pairsOf(req.message.rawHeaders));
  const reason = req.message.headers["x-warden-reason"];

  // 1. A placeholder may only travel to a host whose policy lists its secret, and only to the
  //    places the policy names for it (policies/secret-places.ts).
  const placeholders = await ctx.credentials.placeholdersOf(agent);
  const used = findPlaceholders([req.pathAndQuery, ...headers.map(([, v]) => v)], placeholders);
  for (const name of used) {
    if (!policy?.secrets[name]) {
      throw fail("secret_host_mismatch", `placeholder for ${name} may not be sent to ${target.host}`);
    }
  }
  const query = q >= 0 ? req.pathAndQuery.slice(q + 1) : "";
  const placement: PlacementInput = {
    secrets: policy?.secrets ?? {},
    path,
    query,
    headers,
    find: (text) => findPlaceholders([text], placeholders),
  };
  const placed = placeSecrets(placement);
  if (!placed.ok) throw fail("secret_misplaced", placed.message);
  // Scrubbing covers every secret the agent may use anywhere, not just this host's: an upstream
  // can echo a value the agent sent to another host (DESIGN §3.1 "Scrubbing").
  const bindings: Binding[] = [];
  for (const name of agentSecrets(set, agent)) {
    const value = await ctx.credentials.secret(name);
    if (value) bindings.push({ placeholder: await ctx.credentials.placeholder(agent, name), value });
  }

  // 2. Policy, for the method sent and every method an override names; the strictest verdict
  //    applies. Buffer the body first only when a rule needs to read it; rules read what the
  //    upstream would act on (policies/canonical-body.ts), an unreadable body fails closed.
  let body: Buffer | undefined;
  if (policy?.needsBody) body = await readBody(req.message, ctx.maxBodyBytes, fail);
  const valuesOf = (name: string) => headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  const canonical = body && canonicalBody(body, valuesOf("content-type"), valuesOf("content-encoding"));
  const overrides = methodOverrides(headers, query, canonical, body);
  if (!overrides.ok) throw fail("bad_request", overrides.message);
  // A `--resolve` host is dialled at the operator's port whatever the URL says: only a policy's
  // explicit `ports` are checked for it, not the 80/443 default.
  const port = target.port;
  const portPinned = ctx.resolve.resolveMap.has(target.host.toLowerCase());
  const asked = [{ via: "", method }, ...overrides.overrides].map((o) => ({
    ...o,
    decision: evaluate(set, {
      agent,
      method: o.method,
      host: target.host,
      port,
      portPinned,
      path,
      query,
      canonical,
    }),
  }));
  const decision = strictest(asked.map((a) => a.decision));
  const by = asked.find((a) => a.decision === decision);
  const audit: Record<string, unknown> = {
    ...base,
    policy: decision.policy,
    rule: decision.rule,
    verdict: decision.verdict,
    ...(overrides.overrides.length > 0 && { overrides: overrides.overrides }),
  };
  if (decision.verdict === "deny") {
    const named = by?.via ? ` (${by.method} named by the ${by.via})` : "";
    throw new GatewayError(decision.code, `${denyMessage(decision.reason, target.host)}${named}`, {
      policy: decision.policy,
      rule: decision.rule,
    });
  }

  // 3. Rate limit, per agent and policy.
  if (policy?.rateLimit) {
    const wait = await ctx.rateLimit(`${agent}\u0000${policy.name}`, policy.rateLimit);
    if (wait !== undefined)
      throw fail("rate_limited", `rate limit of ${policy.name} reached`, { retryAfter: wait });
  }

  // 4. Address: checked before a human is asked, dialled exactly as checked.
  const where = await resolveTarget(target.host, target.port, {
    ...ctx.resolve,
    allowPrivate: policy?.allowPrivate ?? false,
  });
  if (!where.ok) throw fail(where.code, where.message, { rule: decision.rule });

  // 5. Approval, bound to agent, method, URL, the headers as sent and the body digest
  //    (await-approval.ts). The body waits sealed, not in memory; what comes back is the held copy.
  if (decision.verdict === "approve") {
    body ??= await readBody(req.message, ctx.maxBodyBytes, fail);
    const waiting = awaitApproval(
      ctx.approvals,
      {
        agent,
        method,
        url: `${target.scheme}://${hostHeader(target)}${req.pathAndQuery}`,
        host: target.host,
        path,
        headers,
        reason: typeof reason === "string" ? reason : null,
        decision,
        placeholders,
        bindings,
        // The card also lists `body: true` secrets found in the held body.
        secrets: carried(placement, placed.placements, body),
        overrides: overrides.overrides,
      },
      body,
      hangup(),
    );
    body = undefined;
    const approved = await waiting;
    body = approved.body;
    audit.approval = approved.approval;
    audit.via = approved.via;
  }

  // 6. Swap placeholders for real values, only those this host's policy lists.
  const swapping = bindings.filter((b) => used.has(placeholders.get(b.placeholder) ?? ""));
  headers = headers.map(([n, v]) => [n, swap(v, swapping)]);
  headers = setHeader(headers, "host", hostHeader(target));
  if (bindings.length > 0) headers = setHeader(headers, "accept-encoding", "identity");
  const bodySwaps = bindings.filter((b) => policy?.secrets[placeholders.get(b.placeholder) ?? ""]?.body);
  if (bodySwaps.length > 0 && TEXTUAL.test(getHeader(headers, "content-type") ?? "")) {
    body ??= await readBody(req.message, ctx.maxBodyBytes, fail);
    const text = body.toString("utf8");
    if (text.includes("wdn_")) body = Buffer.from(swap(text, bodySwaps), "utf8");
  }
  if (body) {
    headers = setHeader(headers, "content-length", String(body.length));
  }
  return {
    address: where.address,
    port: where.port,
    pathAndQuery: swap(req.pathAndQuery, swapping),
    headers,
    body,
    bindings,
    audit,
  };
}

/** Names of the secrets any policy that applies to `agent` lists (its own or `*`), per policy set. */
const secretNames = new WeakMap<PolicySet, Map<string, readonly string[]>>();
function agentSecrets(set: PolicySet, agent: string): readonly string[] {
  let byAgent = secretNames.get(set);
  if (!byAgent) {
    byAgent = new Map();
    secretNames.set(set, byAgent);
  }
  let names = byAgent.get(agent);
  if (!names) {
    const found = new Set<string>();
    for (const p of set.policies) {
      if (p.agents.includes(agent) || p.agents.includes("*"))
        for (const n of Object.keys(p.secrets)) found.add(n);
    }
    names = [...found];
    byAgent.set(agent, names);
  }
  return names;
}

/** Placements for the card: with `body: true` secrets, also those found in the held body. */
function carried(
  input: PlacementInput,
  placed: readonly SecretPlacement[],
  body: Buffer,
): readonly SecretPlacement[] {
  if (!Object.values(input.secrets).some((use) => use.body)) return placed;
  const all = placeSecrets({ ...input, body: body.toString("latin1") });
  return all.ok ? all.placements : placed;
}

function denyMessage(reason: string, host: string): string {
  switch (reason) {
    case "unknown_host":
    case "bad_host":
      return `no policy allows ${host}`;
    case "ambiguous_path":
      return "path is ambiguous (dot segments, encoded slashes or bad escapes)";
    case "bad_method":
      return "method is not allowed";
    case "bad_port":
      return `that port of ${host} is not allowed`;
    default:
      return `denied by policy (${reason})`;
  }
}

/**
 * Reads the whole body up to `limit` bytes; larger bodies are refused rather than truncated.
 * The listeners live as long as the request, so once settled they hold neither the chunks nor the
 * promise (whose result is the body): a request held for a human keeps no copy of its body in
 * memory through them (the held copy is sealed on disk meanwhile).
 */
function readBody(
  msg: IncomingMessage,
  limit: number,
  fail: (code: "payload_too_large", message: string) => GatewayError,
): Promise<Buffer> {
  const box: { resolve?: (b: Buffer) => void; reject?: (e: unknown) => void } = {};
  const promise = new Promise<Buffer>((resolve, reject) => {
    box.resolve = resolve;
    box.reject = reject;
  });
  const chunks: Buffer[] = [];
  let size = 0;
  const finish = (err: unknown, body?: Buffer): void => {
    const { resolve, reject } = box;
    box.resolve = box.reject = undefined;
    chunks.length = 0;
    if (err !== undefined) reject?.(err);
    else resolve?.(body ?? Buffer.alloc(0));
  };
  msg.on("data", (c: Buffer) => {
    if (!box.resolve) return;
    size += c.length;
    if (size > limit) {
      msg.pause();
      finish(fail("payload_too_large", `body over ${limit} bytes cannot be inspected`));
      return;
    }
    chunks.push(c);
  });
  msg.on("end", () => finish(undefined, Buffer.concat(chunks)));
  msg.on("error", (e) => finish(e));
  // A body that breaks off (hang-up, stall, bad chunk) must not leave the request waiting forever.
  msg.on("close", () => {
    if (!msg.complete) finish(new GatewayError("bad_request", "request body broke off"));
  });
  return promise;
}
