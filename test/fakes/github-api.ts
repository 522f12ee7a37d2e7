/**
 * A fake GitHub REST API on 127.0.0.1 for the real `@chat-adapter/github` (Octokit `baseUrl`), and
 * GitHub's side of webhooks: `comment()` posts an `issue_comment` delivery signed with
 * `x-hub-signature-256` to Warden's webhook listener, as GitHub does. It serves what the adapter
 * calls: `GET /user` (bot id), comment create / edit, reactions. Comments are recorded per issue.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hubSignature, type RawAnswer, rawPost } from "./webhook-client.js";

export const GITHUB_BOT = { id: 990001, login: "warden-bot" } as const;

export interface FakeComment {
  readonly id: number;
  body: string;
  readonly issue: string;
  readonly user: { readonly id: number; readonly login: string };
  /** Every body it had, oldest first (what someone may have read before an edit). */
  readonly versions?: string[];
}

export interface FakeGitHub {
  /** `GITHUB_API_URL`. */
  readonly url: string;
  readonly comments: FakeComment[];
  /** Comments in the thread `github:owner/repo:issue:N`. */
  commentsIn(threadId: string): FakeComment[];
  /** GitHub delivering a new comment by `user` on `owner/repo#n` to Warden's listener. */
  comment(
    webhooksUrl: string,
    o: { repo?: string; issue?: number; user: { id: number; login: string }; text: string; at?: Date },
  ): Promise<RawAnswer>;
  close(): Promise<void>;
}

/** `token`: when given, `GET /user` and `GET /app` want it (as `token …` or `Bearer …`), like GitHub. */
export async function startFakeGitHub(
  webhookSecret: string,
  o: { token?: string } = {},
): Promise<FakeGitHub> {
  const comments: FakeComment[] = [];
  let nextId = 5000;
  const now = () => new Date().toISOString();
  const view = (c: FakeComment) => ({
    id: c.id,
    body: c.body,
    user: { ...c.user, type: c.user.id === GITHUB_BOT.id ? "Bot" : "User" },
    created_at: now(),
    updated_at: now(),
    html_url: `https://github.invalid/${c.issue}#issuecomment-${c.id}`,
  });
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      const json = (status: number, v: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(v));
      };
      const path = (req.url ?? "").split("?")[0] ?? "";
      const auth = req.headers.authorization ?? "";
      const authed = !o.token || auth === `token ${o.token}` || auth === `Bearer ${o.token}`;
      if (req.method === "GET" && (path === "/user" || path === "/app") && !authed)
        return json(401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" });
      if (req.method === "GET" && path === "/user") return json(200, { ...GITHUB_BOT, type: "Bot" });
      const create = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(path);
      if (req.method === "POST" && create) {
        const body = (JSON.parse(raw) as { body: string }).body;
        const c: FakeComment = {
          id: nextId++,
          body,
          issue: `${create[1]}/${create[2]}:issue:${create[3]}`,
          user: GITHUB_BOT,
          versions: [body],
        };
        comments.push(c);
        return json(201, view(c));
      }
      const edit = /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/.exec(path);
      if (req.method === "PATCH" && edit) {
        const c = comments.find((x) => x.id === Number(edit[1]));
        if (!c) return json(404, { message: "Not Found" });
        c.body = (JSON.parse(raw) as { body: string }).body;
        c.versions?.push(c.body);
        return json(200, view(c));
      }
      if (req.method === "POST" && /\/reactions$/.test(path)) return json(201, { id: 1, content: "+1" });
      json(404, { message: "Not Found" });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let deliveries = 0;
  return {
    url,
    comments,
    commentsIn: (threadId) => comments.filter((c) => `github:${c.issue}` === threadId),
    comment(webhooksUrl, o) {
      const [owner, name] = (o.repo ?? "acme/app").split("/");
      const id = nextId++;
      comments.push({ id, body: o.text, issue: `${owner}/${name}:issue:${o.issue ?? 7}`, user: o.user });
      const body = JSON.stringify({
        action: "created",
        issue: { number: o.issue ?? 7, title: "Agent demo", user: o.user },
        comment: {
          id,
          body: o.text,
          user: { ...o.user, type: "User" },
          created_at: (o.at ?? new Date()).toISOString(),
          updated_at: now(),
        },
        repository: { id: 1, name, full_name: `${owner}/${name}`, owner: { login: owner } },
        sender: { ...o.user, type: "User" },
      });
      return rawPost(
        webhooksUrl,
        "/webhooks/github",
        {
          "content-type": "application/json",
          "x-github-event": "issue_comment",
          "x-github-delivery": `delivery-${++deliveries}`,
          "x-hub-signature-256": hubSignature(webhookSecret, body),
        },
        body,
      );
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
