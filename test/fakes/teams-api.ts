/**
 * A fake Bot Framework connector for Teams on 127.0.0.1, plus Entra's token endpoint, for the real
 * `@chat-adapter/teams`. Activities it delivers to Warden carry its own URL as `serviceUrl` and an
 * RS256 JWT signed by the fake key server (platform-jwt.ts), as Bot Framework signs them, so replies
 * come back here. It records what the bot sends (`POST …/activities`), edits (`PUT …/activities/{id}`)
 * and 1:1 conversations it creates (`POST /v3/conversations`). Like Teams, it refuses an activity
 * over 28 KB (`TEAMS_MAX_ACTIVITY_BYTES`, the serialised JSON as sent) with 413 MessageSizeTooBig.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { PlatformKeys } from "./platform-jwt.js";
import { type RawAnswer, rawPost } from "./webhook-client.js";

/** Teams' documented limit for a bot message (the whole activity): about 28 KB. */
export const TEAMS_MAX_ACTIVITY_BYTES = 28 * 1024;

export interface TeamsUser {
  /** The `29:` id (per bot). */
  readonly id: string;
  readonly name: string;
  readonly aadObjectId?: string;
}

export interface TeamsSent {
  readonly id: string;
  readonly conversationId: string;
  readonly activity: Record<string, unknown>;
  /** Edits in order (each a whole replacement activity). */
  readonly edits: Record<string, unknown>[];
}

export interface FakeTeams {
  /** `TEAMS_API_URL`, and the `serviceUrl` of every activity it delivers. */
  readonly url: string;
  /** `TEAMS_TOKEN_URL`. */
  readonly tokenUrl: string;
  readonly sent: TeamsSent[];
  readonly tokenRequests: URLSearchParams[];
  /** Conversations created for proactive 1:1 chats, by member id. */
  readonly created: { member: string; id: string }[];
  /** Sizes (bytes) of activities refused as too big. */
  readonly tooBig: number[];
  /** Delivers `activity` (filled in: id, serviceUrl, timestamps) signed for `appId`. */
  deliver(
    webhooksUrl: string,
    activity: Record<string, unknown>,
    o?: { claims?: Record<string, unknown>; foreign?: boolean; unsigned?: boolean; raw?: boolean },
  ): Promise<RawAnswer & { body: string; sentBody: string; headers: Record<string, string> }>;
  close(): Promise<void>;
}

/** `password`: when given, the token endpoint refuses any other client secret (invalid_client). */
export async function startFakeTeams(o: {
  appId: string;
  keys: PlatformKeys;
  password?: string;
}): Promise<FakeTeams> {
  const sent: TeamsSent[] = [];
  const tokenRequests: URLSearchParams[] = [];
  const created: { member: string; id: string }[] = [];
  const tooBig: number[] = [];
  let next = 1;
  // The SDK decodes the bot token: it must be a JWT, though nobody checks its signature here.
  const b = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const botToken = `${b({ alg: "RS256", typ: "JWT" })}.${b({ appid: o.appId, aud: "https://api.botframework.com", exp: Math.floor(Date.now() / 1000) + 3600 })}.c2ln`;
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      const json = (status: number, v: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(v));
      };
      const path = decodeURIComponent((req.url ?? "").split("?")[0] ?? "").replace(/\/\/+/g, "/");
      if (req.method === "POST" && path === "/oauth2/v2.0/token") {
        const form = new URLSearchParams(raw);
        tokenRequests.push(form);
        if (o.password && (form.get("client_secret") !== o.password || form.get("client_id") !== o.appId))
          return json(401, {
            error: "invalid_client",
            error_description: "AADSTS7000215: Invalid client secret provided.",
          });
        return json(200, { token_type: "Bearer", expires_in: 3600, access_token: botToken });
      }
      if (req.headers.authorization !== `Bearer ${botToken}`)
        return json(401, { error: { code: "Unauthorized" } });
      const size = Buffer.byteLength(raw);
      if (
        (req.method === "POST" || req.method === "PUT") &&
        /\/activities/.test(path) &&
        size > TEAMS_MAX_ACTIVITY_BYTES
      ) {
        tooBig.push(size);
        return json(413, { error: { code: "MessageSizeTooBig", message: "Message size too big" } });
      }
      const member = /^\/v3\/conversations\/([^/]+)\/members\/([^/]+)$/.exec(path);
      if (req.method === "GET" && member)
        return json(200, { id: member[2], name: "someone", aadObjectId: undefined, userRole: "user" });
      const post = /^\/v3\/conversations\/([^/]+)\/activities\/?$/.exec(path);
      if (req.method === "POST" && post?.[1]) {
        const id = `msg-${next++}`;
        sent.push({ id, conversationId: post[1], activity: JSON.parse(raw), edits: [] });
        return json(201, { id });
      }
      const reply = /^\/v3\/conversations\/([^/]+)\/activities\/([^/]+)$/.exec(path);
      if (req.method === "POST" && reply?.[1]) {
        const id = `msg-${next++}`;
        sent.push({ id, conversationId: reply[1], activity: JSON.parse(raw), edits: [] });
        return json(201, { id });
      }
      if (req.method === "PUT" && reply?.[2]) {
        const m = sent.find((s) => s.id === reply[2]);
        if (!m) return json(404, { error: { code: "NotFound" } });
        m.edits.push(JSON.parse(raw));
        return json(200, { id: m.id });
      }
      if (req.method === "POST" && path === "/v3/conversations") {
        const body = JSON.parse(raw) as { members?: { id?: string }[] };
        const id = `a:dm-${next++}`;
        created.push({ member: body.members?.[0]?.id ?? "", id });
        return json(201, { id });
      }
      json(404, { error: { code: "NotFound" } });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    tokenUrl: `${url}oauth2/v2.0/token`,
    sent,
    tokenRequests,
    created,
    tooBig,
    async deliver(webhooksUrl, activity, d = {}) {
      const full = {
        type: "message",
        id: randomUUID(),
        timestamp: new Date().toISOString(),
        channelId: "msteams",
        serviceUrl: url,
        recipient: { id: `28:${o.appId}`, name: "warden" },
        ...activity,
      };
      const now = Math.floor(Date.now() / 1000);
      const token = o.keys.sign(
        {
          iss: "https://api.botframework.com",
          aud: o.appId,
          serviceurl: full.serviceUrl,
          nbf: now - 5,
          iat: now - 5,
          exp: now + 3600,
          ...d.claims,
        },
        { foreign: d.foreign },
      );
      const sentBody = JSON.stringify(full);
      const headers: Record<string, string> = {
        "content-type": "application/json",
        ...(d.unsigned ? {} : { authorization: `Bearer ${token}` }),
      };
      const a = await rawPost(webhooksUrl, "/webhooks/teams", headers, sentBody);
      return { ...a, sentBody, headers };
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
