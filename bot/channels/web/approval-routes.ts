/**
 * Routes of the full-request page: `GET /approvals/<id>` and `POST /approvals/<id>/decision`.
 * Untrusted: the request (a browser, or a page elsewhere trying CSRF or framing) and the id in the
 * path. Who may see and decide is the bot's call (`ApprovalPages`, the chat approver's rule, the same
 * one a tap's vote passes); this file only refuses early: nobody signed in → a sign-in prompt (401),
 * not allowed → 403, unknown → 404, all three without any request data. A decision needs the
 * session's CSRF token and, when sent, a same-origin `Origin`, exactly as the chat API.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { CardActionKind } from "../../cards.js";
import type { FullRequestView } from "../../chat-approver.js";
import { approvalPage, notePage } from "./approval-page.js";
import { readJsonBody, sendHtml, sendJson } from "./http-io.js";
import type { WebSession, WebSessions } from "./sessions.js";

/** What the web chat asks the bot; `userId` is the web user id (the bot prefixes `web:`). */
export interface ApprovalPages {
  load(userId: string, approvalId: string): Promise<FullRequestView>;
  /** Decides as a tap on a card would; resolves with the same answer a tap gets. */
  decide(userId: string, approvalId: string, action: CardActionKind): Promise<string>;
}

export interface ApprovalRoutesDeps {
  readonly pages?: ApprovalPages;
  readonly sessions: WebSessions;
  readonly originAllowed: (origin: string) => boolean;
  readonly log: (event: string, fields?: Record<string, unknown>) => void;
}

// Approval ids are gateway UUIDs; anything else is not an approval.
const PATH = /^\/approvals\/([A-Za-z0-9-]{1,64})(\/decision)?$/;
const ACTIONS: readonly CardActionKind[] = ["approve", "deny", "grant"];

/** Builds the handler; it returns false for paths that are not its own. */
export function createApprovalRoutes(deps: ApprovalRoutesDeps) {
  function note(res: ServerResponse, status: number, title: string, text: string): void {
    const nonce = randomBytes(16).toString("base64url");
    sendHtml(res, status, notePage(nonce, title, text), nonce);
  }

  async function show(res: ServerResponse, session: WebSession, id: string): Promise<void> {
    const page = deps.pages ? await deps.pages.load(session.userId, id) : ({ kind: "not_found" } as const);
    if (page.kind === "not_found") return note(res, 404, "Not found", "There is no such request.");
    if (page.kind === "forbidden")
      return note(res, 403, "Not yours to decide", "Only the people who may decide this request can see it.");
    const nonce = randomBytes(16).toString("base64url");
    deps.log("web.full_request_shown", { userId: session.userId, approval: page.view.id });
    sendHtml(res, 200, approvalPage(nonce, session.csrf, page), nonce);
  }

  async function decide(req: IncomingMessage, res: ServerResponse, session: WebSession, id: string) {
    const origin = req.headers.origin;
    if (origin !== undefined && !deps.originAllowed(origin))
      return sendJson(res, 403, { error: "bad_origin" });
    if (!deps.sessions.checkCsrf(session, req.headers["x-warden-csrf"]))
      return sendJson(res, 403, { error: "csrf" });
    const body = await readJsonBody(req, 1024);
    if (!body.ok) return sendJson(res, body.status, { error: "bad_body" }, { connection: "close" });
    const action = (body.value as { action?: unknown } | null)?.action;
    if (!ACTIONS.includes(action as CardActionKind)) return sendJson(res, 400, { error: "bad_fields" });
    if (!deps.pages) return sendJson(res, 404, { error: "not_found" });
    const message = await deps.pages.decide(session.userId, id, action as CardActionKind);
    sendJson(res, 200, { message });
  }

  return async function approvalRoutes(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    session: WebSession | undefined,
  ): Promise<boolean> {
    const m = PATH.exec(path);
    if (!m) return false;
    const id = m[1]!;
    const isDecision = m[2] !== undefined;
    if (req.method !== (isDecision ? "POST" : "GET")) {
      sendJson(res, 405, { error: "method" });
      return true;
    }
    if (session === undefined) {
      if (isDecision) sendJson(res, 401, { error: "signed_out" });
      else
        note(
          res,
          401,
          "Sign in to see this request",
          "Open the link Warden gave you (the owner link or an invite) in this browser, then this page again.",
        );
      return true;
    }
    await (isDecision ? decide(req, res, session, id) : show(res, session, id));
    return true;
  };
}
