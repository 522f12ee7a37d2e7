/**
 * A fake Google Chat API on 127.0.0.1 for the real `@chat-adapter/gchat`: `spaces.messages.create`
 * (`POST /v1/spaces/{s}/messages`), `spaces.messages.update` (`PUT|PATCH /v1/spaces/{s}/messages/{m}`),
 * `spaces.findDirectMessage`, and a service account's token endpoint that checks the JWT-bearer
 * assertion against the key in the `credentials` it hands out. It delivers Workspace add-on events to
 * Warden with a Bearer JWT signed like chat@system.gserviceaccount.com signs them (platform-jwt.ts).
 */
import { createVerify, generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { PlatformKeys } from "./platform-jwt.js";
import { type RawAnswer, rawPost } from "./webhook-client.js";

export interface GchatSent {
  readonly name: string;
  readonly space: string;
  /** The thread Google put it in (taps report the card by it). */
  readonly thread: string;
  readonly body: Record<string, unknown>;
  /** Each update's request body, in order. */
  readonly edits: Record<string, unknown>[];
}

export interface GchatUser {
  readonly name: string;
  readonly displayName: string;
}

export interface FakeGchat {
  /** `GOOGLE_CHAT_API_URL`. */
  readonly url: string;
  /** `GOOGLE_CHAT_CREDENTIALS`: a service account key whose token_uri is this fake. */
  readonly credentials: string;
  readonly sent: GchatSent[];
  /** Decoded claims of every assertion the token endpoint accepted. */
  readonly tokenRequests: Record<string, unknown>[];
  /** Requests refused for lacking the token the endpoint issued. */
  readonly unauthorized: number;
  /** Signs and posts `event` to `/webhooks/gchat`. */
  deliver(
    webhooksUrl: string,
    event: Record<string, unknown>,
    o?: { claims?: Record<string, unknown>; foreign?: boolean; unsigned?: boolean },
  ): Promise<RawAnswer & { sentBody: string; headers: Record<string, string> }>;
  /** A person's message in `space` (add-on envelope). */
  message(
    user: GchatUser,
    space: { name: string; type: "DM" | "ROOM" },
    text: string,
  ): Record<string, unknown>;
  /** A click on a button of `card`, with the button's parameters. */
  click(user: GchatUser, card: GchatSent, parameters: Record<string, string>): Record<string, unknown>;
  close(): Promise<void>;
}

const ISSUER = "chat@system.gserviceaccount.com";

export async function startFakeGchat(o: { projectNumber: string; keys: PlatformKeys }): Promise<FakeGchat> {
  const sa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const sent: GchatSent[] = [];
  const tokenRequests: Record<string, unknown>[] = [];
  const ACCESS = "ya29.fake-access-token-for-tests";
  let unauthorized = 0;
  let next = 1;
  let url = "";
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      const json = (status: number, v: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(v));
      };
      const u = new URL(req.url ?? "/", "http://x");
      const path = decodeURIComponent(u.pathname);
      if (req.method === "POST" && path === "/token") {
        const form = new URLSearchParams(raw);
        const [h, p, s] = (form.get("assertion") ?? "").split(".");
        const ok =
          form.get("grant_type") === "urn:ietf:params:oauth:grant-type:jwt-bearer" &&
          !!s &&
          createVerify("RSA-SHA256").update(`${h}.${p}`).verify(sa.publicKey, s, "base64url");
        if (!ok) return json(400, { error: "invalid_grant" });
        tokenRequests.push(JSON.parse(Buffer.from(p ?? "", "base64url").toString()));
        return json(200, { access_token: ACCESS, expires_in: 3599, token_type: "Bearer" });
      }
      if (req.headers.authorization !== `Bearer ${ACCESS}`) {
        unauthorized++;
        return json(401, { error: { code: 401, status: "UNAUTHENTICATED" } });
      }
      if (req.method === "GET" && path === "/v1/spaces:findDirectMessage") {
        const who = u.searchParams.get("name") ?? "";
        return json(200, { name: `spaces/dm-${who.replace(/\D/g, "")}`, spaceType: "DIRECT_MESSAGE" });
      }
      const create = /^\/v1\/(spaces\/[^/]+)\/messages$/.exec(path);
      if (req.method === "POST" && create?.[1]) {
        const body = JSON.parse(raw) as Record<string, unknown>;
        const n = next++;
        const name = `${create[1]}/messages/m${n}`;
        const given = (body.thread as { name?: string } | undefined)?.name;
        const thread = { name: given ?? `${create[1]}/threads/t${n}` };
        sent.push({ name, space: create[1], thread: thread.name, body, edits: [] });
        return json(200, { ...body, name, thread, createTime: new Date().toISOString() });
      }
      const update = /^\/v1\/(spaces\/[^/]+\/messages\/[^/]+)$/.exec(path);
      if ((req.method === "PUT" || req.method === "PATCH") && update?.[1]) {
        const m = sent.find((s) => s.name === update[1]);
        if (!m) return json(404, { error: { code: 404, status: "NOT_FOUND" } });
        m.edits.push(JSON.parse(raw));
        return json(200, { ...JSON.parse(raw), name: m.name });
      }
      json(404, { error: { code: 404, status: "NOT_FOUND" } });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const credentials = JSON.stringify({
    type: "service_account",
    project_id: "warden-test",
    client_email: "warden-bot@warden-test.iam.gserviceaccount.com",
    private_key: sa.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    token_uri: `${url}token`,
  });
  const spaceOf = (name: string) => ({
    name,
    type: name.includes("dm-") ? "DM" : "ROOM",
    spaceType: name.includes("dm-") ? "DIRECT_MESSAGE" : "SPACE",
  });
  return {
    url,
    credentials,
    sent,
    tokenRequests,
    get unauthorized() {
      return unauthorized;
    },
    async deliver(webhooksUrl, event, d = {}) {
      const now = Math.floor(Date.now() / 1000);
      const token = o.keys.sign(
        { iss: ISSUER, aud: o.projectNumber, iat: now - 5, exp: now + 3600, ...d.claims },
        { foreign: d.foreign },
      );
      const sentBody = JSON.stringify(event);
      const headers: Record<string, string> = {
        "content-type": "application/json",
        ...(d.unsigned ? {} : { authorization: `Bearer ${token}` }),
      };
      const a = await rawPost(webhooksUrl, "/webhooks/gchat", headers, sentBody);
      return { ...a, sentBody, headers };
    },
    message(user, space, text) {
      const n = next++;
      const s = {
        name: space.name,
        type: space.type,
        spaceType: space.type === "DM" ? "DIRECT_MESSAGE" : "SPACE",
      };
      return {
        commonEventObject: { hostApp: "CHAT" },
        chat: {
          user: { ...user, type: "HUMAN" },
          eventTime: new Date().toISOString(),
          messagePayload: {
            space: s,
            message: {
              name: `${space.name}/messages/in${n}`,
              sender: { ...user, type: "HUMAN" },
              text,
              argumentText: text,
              thread: { name: `${space.name}/threads/in${n}` },
              space: s,
              createTime: new Date().toISOString(),
            },
          },
        },
      };
    },
    click(user, card, parameters) {
      return {
        commonEventObject: { hostApp: "CHAT", invokedFunction: `${url}unused`, parameters },
        chat: {
          user: { ...user, type: "HUMAN" },
          eventTime: new Date().toISOString(),
          buttonClickedPayload: {
            space: spaceOf(card.space),
            message: {
              name: card.name,
              thread: { name: card.thread },
            },
            user: { ...user, type: "HUMAN" },
          },
        },
      };
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
