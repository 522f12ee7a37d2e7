/**
 * Routes of the operator console: `GET /console` (the page) and `/console/api/*` (its JSON).
 * Untrusted: the request (a browser, or a page elsewhere trying CSRF, framing or DNS rebinding; the
 * Host check is web-channel.ts's), every field of every body, the names in the path, and most of what
 * we send back (agent-written; console-data.ts). Only the owner and admins may use it: nobody signed
 * in → a sign-in prompt (401), anyone else → 403, checked on every request (roles can change). A POST
 * also needs the session's CSRF token and, when sent, a same-origin `Origin`. Secret values go in
 * (set) and never come out; no log line carries a value, a policy text or a search term.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { AGENT_NAME, SECRET_NAME } from "../../../gateway/index.js";
import type { ControlPort } from "../../control-port.js";
import { notePage } from "./approval-page.js";
import { logTail, pendingItems, searchAudit } from "./console-data.js";
import { consolePage } from "./console-page.js";
import { readJsonBody, sendHtml, sendJson } from "./http-io.js";
import type { WebSession, WebSessions } from "./sessions.js";

/** What the console needs from the bot; `userId` is the web user id (the bot prefixes `web:`). */
export interface ConsoleAccess {
  /** True for the owner and admins. */
  mayUse(userId: string): Promise<boolean>;
  /** The bot's ControlPort; throws while Warden is still starting. */
  control(): ControlPort;
}

export interface ConsoleRoutesDeps {
  readonly access?: ConsoleAccess;
  readonly sessions: WebSessions;
  readonly originAllowed: (origin: string) => boolean;
  readonly log: (event: string, fields?: Record<string, unknown>) => void;
}

const POLICY_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const MAX_POLICY_BYTES = 256 * 1024;
const MAX_SECRET_BYTES = 64 * 1024;
const PAGE_ROWS = 50;

const PolicyBody = z.object({ name: z.string().regex(POLICY_NAME), yaml: z.string().max(MAX_POLICY_BYTES) });
const ReplayBody = PolicyBody.extend({ window: z.string().regex(/^[0-9]{1,4}[smhd]$/) });
const SecretSet = z.object({
  name: z.string().regex(SECRET_NAME),
  value: z.string().min(1).max(MAX_SECRET_BYTES),
});
const SecretDelete = z.object({ name: z.string().regex(SECRET_NAME) });
const AuditParams = z.object({
  agent: z.string().max(200).optional(),
  host: z.string().max(300).optional(),
  decision: z.enum(["allow", "approve", "deny"]).optional(),
  before: z.coerce.number().int().positive().optional(),
});

/** Builds the handler; it returns false for paths that are not its own. */
export function createConsoleRoutes(deps: ConsoleRoutesDeps) {
  function note(res: ServerResponse, status: number, title: string, text: string): void {
    const nonce = randomBytes(16).toString("base64url");
    sendHtml(res, status, notePage(nonce, title, text), nonce);
  }

  async function get(res: ServerResponse, control: ControlPort, path: string, query: URLSearchParams) {
    if (path === "approvals") return sendJson(res, 200, { pending: await pendingItems(control) });
    if (path === "audit") {
      const q = AuditParams.safeParse(Object.fromEntries(query));
      if (!q.success) return sendJson(res, 400, { error: "bad_query" });
      return sendJson(res, 200, await searchAudit(control, { ...q.data, limit: PAGE_ROWS }));
    }
    if (path === "audit/verify") {
      const v = await control.verifyAudit?.();
      return sendJson(res, v ? 200 : 501, v ?? { error: "unavailable" });
    }
    if (path === "agents") return sendJson(res, 200, { agents: await control.listAgents() });
    const logs = /^agents\/([^/]+)\/logs$/.exec(path);
    if (logs && AGENT_NAME.test(logs[1]!)) {
      try {
        return sendJson(res, 200, logTail(await control.agentLogs(logs[1]!)));
      } catch {
        // The runtime's own message may name paths or hosts; say only that there are none.
        return sendJson(res, 404, { error: "no_logs" });
      }
    }
    if (path === "policies") return sendJson(res, 200, { policies: control.listPolicies() });
    const policy = /^policies\/([^/]+)$/.exec(path);
    if (policy && POLICY_NAME.test(policy[1]!)) {
      const yaml = await control.readPolicy(policy[1]!);
      return yaml === undefined ? sendJson(res, 404, { error: "not_found" }) : sendJson(res, 200, { yaml });
    }
    if (path === "secrets") return sendJson(res, 200, { names: await control.listSecrets() });
    sendJson(res, 404, { error: "not_found" });
  }

  async function post(req: IncomingMessage, res: ServerResponse, session: WebSession, path: string) {
    const origin = req.headers.origin;
    if (origin !== undefined && !deps.originAllowed(origin))
      return sendJson(res, 403, { error: "bad_origin" });
    if (!deps.sessions.checkCsrf(session, req.headers["x-warden-csrf"]))
      return sendJson(res, 403, { error: "csrf" });
    const max = path.startsWith("secrets/") ? MAX_SECRET_BYTES * 7 : MAX_POLICY_BYTES * 7;
    const body = await readJsonBody(req, max);
    if (!body.ok) return sendJson(res, body.status, { error: "bad_body" }, { connection: "close" });
    const control = deps.access!.control();
    const by = { userId: session.userId };
    switch (path) {
      case "policies/validate": {
        const b = PolicyBody.safeParse(body.value);
        if (!b.success) return sendJson(res, 400, { error: "bad_fields" });
        if (!control.validatePolicy) return sendJson(res, 501, { error: "unavailable" });
        return sendJson(res, 200, await control.validatePolicy(b.data.name, b.data.yaml));
      }
      case "policies/replay": {
        const b = ReplayBody.safeParse(body.value);
        if (!b.success) return sendJson(res, 400, { error: "bad_fields" });
        if (!control.replayPolicy) return sendJson(res, 501, { error: "unavailable" });
        const out = await control.replayPolicy({
          policy: b.data.name,
          yaml: b.data.yaml,
          window: b.data.window,
        });
        return sendJson(res, 200, out);
      }
      case "policies/save": {
        const b = PolicyBody.safeParse(body.value);
        if (!b.success) return sendJson(res, 400, { error: "bad_fields" });
        const out = await control.writePolicy(b.data.name, b.data.yaml);
        deps.log("web.console_policy_saved", { ...by, policy: b.data.name, ok: out.ok });
        return sendJson(res, out.ok ? 200 : 422, out);
      }
      case "secrets/set": {
        const b = SecretSet.safeParse(body.value);
        // Never echo the body back: it may hold a value even when malformed.
        if (!b.success) return sendJson(res, 400, { error: "bad_fields" });
        await control.setSecret(b.data.name, b.data.value);
        deps.log("web.console_secret_set", { ...by, secret: b.data.name });
        return sendJson(res, 200, { ok: true, name: b.data.name });
      }
      case "secrets/delete": {
        const b = SecretDelete.safeParse(body.value);
        if (!b.success) return sendJson(res, 400, { error: "bad_fields" });
        const deleted = await control.deleteSecret(b.data.name);
        deps.log("web.console_secret_deleted", { ...by, secret: b.data.name, deleted });
        return sendJson(res, deleted ? 200 : 404, deleted ? { ok: true } : { error: "not_found" });
      }
      default:
        return sendJson(res, 404, { error: "not_found" });
    }
  }

  return async function consoleRoutes(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    session: WebSession | undefined,
  ): Promise<boolean> {
    if (path !== "/console" && !path.startsWith("/console/")) return false;
    const api = path.startsWith("/console/api/");
    if (session === undefined) {
      if (api) sendJson(res, 401, { error: "signed_out" });
      else
        note(
          res,
          401,
          "Sign in to use the console",
          "Open the owner link or an admin invite in this browser, then this page again.",
        );
      return true;
    }
    const access = deps.access;
    if (!access || (await access.mayUse(session.userId)) !== true) {
      deps.log("web.console_refused", { userId: session.userId });
      if (api) sendJson(res, 403, { error: "forbidden" });
      else note(res, 403, "Not for you", "The console is for the owner and admins of this Warden.");
      return true;
    }
    if (path === "/console" && req.method === "GET") {
      const nonce = randomBytes(16).toString("base64url");
      sendHtml(res, 200, consolePage(nonce, session.csrf), nonce);
      return true;
    }
    if (!api) {
      sendJson(res, 404, { error: "not_found" });
      return true;
    }
    const rest = path.slice("/console/api/".length);
    if (req.method === "GET") {
      const query = new URLSearchParams((req.url ?? "").split("?")[1] ?? "");
      await get(res, access.control(), rest, query);
    } else if (req.method === "POST") await post(req, res, session, rest);
    else sendJson(res, 405, { error: "method" });
    return true;
  };
}
