/**
 * A fake Linear GraphQL API on 127.0.0.1 for the real `@chat-adapter/linear` (`apiUrl`, the full
 * GraphQL URL), and Linear's side of webhooks: `comment()` posts a `Comment` `create` delivery with
 * `linear-signature` (hex HMAC-SHA256 of the body) and a signed `webhookTimestamp`, as Linear does.
 * Operations are matched by their text: the viewer/organization query, commentCreate, commentUpdate
 * and the follow-up `comment(id:)` query (which must carry `reactions: []` for the SDK's model).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { linearSignature, type RawAnswer, rawPost } from "./webhook-client.js";

export const LINEAR_BOT = { id: "bot-user-1", name: "warden" } as const;

export interface LinearComment {
  readonly id: string;
  body: string;
  readonly issueId: string;
  readonly parentId?: string;
  readonly userId: string;
  /** Every body it had, oldest first (what someone may have read before an edit). */
  readonly versions?: string[];
}

export interface FakeLinear {
  /** `LINEAR_API_URL`. */
  readonly url: string;
  readonly comments: LinearComment[];
  comment(
    webhooksUrl: string,
    o: { issueId: string; parentId?: string; user: { id: string; name: string }; text: string; at?: number },
  ): Promise<RawAnswer>;
  close(): Promise<void>;
}

/** `apiKey`: when given, every request must carry it (bare, as Linear takes personal keys). */
export async function startFakeLinear(
  webhookSecret: string,
  o: { apiKey?: string } = {},
): Promise<FakeLinear> {
  const comments: LinearComment[] = [];
  let next = 1;
  const full = (c: LinearComment) => {
    const at = new Date().toISOString();
    return {
      __typename: "Comment",
      id: c.id,
      body: c.body,
      createdAt: at,
      updatedAt: at,
      url: `https://linear.invalid/comment/${c.id}`,
      reactions: [],
      reactionData: [],
      issueId: c.issueId,
      parentId: c.parentId ?? null,
      issue: { id: c.issueId },
      parent: c.parentId ? { id: c.parentId } : null,
      user: { id: c.userId },
    };
  };
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (ch: Buffer) => (raw += ch.toString()));
    req.on("end", () => {
      const json = (v: unknown) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(v));
      };
      if (o.apiKey && req.headers.authorization !== o.apiKey) {
        res.writeHead(400, { "content-type": "application/json" });
        return res.end(
          JSON.stringify({
            errors: [
              {
                message: "Authentication required, not authenticated",
                extensions: { code: "AUTHENTICATION_ERROR" },
              },
            ],
          }),
        );
      }
      const { query, variables } = JSON.parse(raw || "{}") as {
        query?: string;
        variables?: Record<string, unknown>;
      };
      const q = query ?? "";
      const input = (variables?.input ?? {}) as { body?: string; issueId?: string; parentId?: string };
      if (/LinearAdapterViewerOrganization|viewer\s*{/.test(q))
        return json({
          data: {
            viewer: {
              id: LINEAR_BOT.id,
              name: LINEAR_BOT.name,
              displayName: LINEAR_BOT.name,
              organization: { id: "org-1" },
            },
          },
        });
      if (/commentCreate/.test(q)) {
        const c: LinearComment = {
          id: `bot-c-${next++}`,
          body: input.body ?? "",
          issueId: input.issueId ?? "",
          ...(input.parentId ? { parentId: input.parentId } : {}),
          userId: LINEAR_BOT.id,
          versions: [input.body ?? ""],
        };
        comments.push(c);
        return json({ data: { commentCreate: { success: true, lastSyncId: next, comment: { id: c.id } } } });
      }
      if (/commentUpdate/.test(q)) {
        const c = comments.find((x) => x.id === variables?.id);
        if (c) {
          c.body = input.body ?? c.body;
          c.versions?.push(c.body);
        }
        return json({
          data: { commentUpdate: { success: !!c, lastSyncId: next, comment: c ? { id: c.id } : null } },
        });
      }
      if (/comment\s*\(/.test(q)) {
        const c = comments.find((x) => x.id === variables?.id);
        return json(c ? { data: { comment: full(c) } } : { errors: [{ message: "not found" }] });
      }
      json({ errors: [{ message: "unsupported operation" }] });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  return {
    url,
    comments,
    comment(webhooksUrl, o) {
      const id = `user-c-${next++}`;
      comments.push({
        id,
        body: o.text,
        issueId: o.issueId,
        ...(o.parentId ? { parentId: o.parentId } : {}),
        userId: o.user.id,
      });
      const at = o.at ?? Date.now();
      const body = JSON.stringify({
        action: "create",
        type: "Comment",
        organizationId: "org-1",
        webhookTimestamp: at,
        webhookId: "hook-1",
        createdAt: new Date(at).toISOString(),
        data: {
          id,
          body: o.text,
          issueId: o.issueId,
          ...(o.parentId ? { parentId: o.parentId } : {}),
          createdAt: new Date(at).toISOString(),
          updatedAt: new Date(at).toISOString(),
          userId: o.user.id,
          user: {
            id: o.user.id,
            name: o.user.name,
            email: `${o.user.name}@example.test`,
            url: "https://linear.invalid/u",
          },
        },
        url: `https://linear.invalid/issue/${o.issueId}#comment-${id}`,
      });
      return rawPost(
        webhooksUrl,
        "/webhooks/linear",
        { "content-type": "application/json", "linear-signature": linearSignature(webhookSecret, body) },
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
