/**
 * A fake BlueBubbles server on 127.0.0.1, speaking its REST shapes (`?password=` on every call):
 * `POST /api/v1/message/text`, `GET /api/v1/message/{guid}` (with chats and handle), `GET
 * /api/v1/server/info`. People's messages and tapbacks are put into its store and delivered to
 * Warden's webhook URL as BlueBubbles does: a plain unsigned `POST {type:"new-message", data}`.
 * `post()` sends any body (forgeries, replays); wrong passwords are counted.
 */
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type RawAnswer, rawPost } from "./webhook-client.js";

export interface BbStored {
  readonly guid: string;
  readonly text: string;
  readonly isFromMe: boolean;
  readonly handle?: string;
  readonly chatGuid: string;
  readonly dateCreated: number;
  readonly associatedMessageGuid?: string;
  readonly associatedMessageType?: string;
}

export interface FakeBlueBubbles {
  readonly url: string;
  readonly messages: BbStored[];
  readonly badPasswords: number;
  /** Texts the bot sent into `chatGuid`, oldest first. */
  textsIn(chatGuid: string): string[];
  /** Texts the bot sent into `chatGuid` after its message `guid`. */
  textsAfter(chatGuid: string, guid: string): string[];
  sent(guid: string): BbStored | undefined;
  /** `handle`'s text in `chatGuid` (default their 1:1 chat), stored and delivered to `webhookUrl`. */
  text(webhookUrl: string, handle: string, text: string, chatGuid?: string): Promise<RawAnswer>;
  /** `handle`'s tapback (`like`, `dislike`, `-like` …) on the message `target`, stored and delivered. */
  tapback(
    webhookUrl: string,
    handle: string,
    target: string,
    kind: string,
    chatGuid?: string,
  ): Promise<RawAnswer>;
  /** The webhook body BlueBubbles sends for a stored message. */
  eventBody(m: BbStored, type?: string): string;
  /** Posts `body` to `webhookUrl` (full URL with the token path). */
  post(webhookUrl: string, body: string): Promise<RawAnswer>;
  close(): Promise<void>;
}

export async function startFakeBlueBubbles(password: string): Promise<FakeBlueBubbles> {
  const messages: BbStored[] = [];
  let seq = 0;
  let badPasswords = 0;
  const guid = () => `F${String(++seq).padStart(6, "0")}-BB-GUID`;
  const view = (m: BbStored) => ({
    guid: m.guid,
    text: m.text,
    isFromMe: m.isFromMe,
    handle: m.handle ? { address: m.handle, service: "iMessage" } : null,
    chats: [{ guid: m.chatGuid, chatIdentifier: m.chatGuid.split(";").pop() }],
    dateCreated: m.dateCreated,
    associatedMessageGuid: m.associatedMessageGuid ?? null,
    associatedMessageType: m.associatedMessageType ?? null,
    attachments: [],
  });
  const json = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const u = new URL(req.url ?? "/", "http://bb");
      if (u.searchParams.get("password") !== password) {
        badPasswords++;
        return json(res, 401, { status: 401, message: "Unauthorized", error: { type: "Unauthorized" } });
      }
      if (req.method === "GET" && u.pathname === "/api/v1/server/info")
        return json(res, 200, {
          status: 200,
          message: "Success",
          data: { server_version: "1.9.9", private_api: false },
        });
      if (req.method === "POST" && u.pathname === "/api/v1/message/text") {
        const b = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          chatGuid?: unknown;
          message?: unknown;
        };
        if (typeof b.chatGuid !== "string" || typeof b.message !== "string")
          return json(res, 400, { status: 400, message: "Bad request" });
        const m: BbStored = {
          guid: guid(),
          text: b.message,
          isFromMe: true,
          chatGuid: b.chatGuid,
          dateCreated: Date.now(),
        };
        messages.push(m);
        return json(res, 200, { status: 200, message: "Message sent!", data: view(m) });
      }
      const one = /^\/api\/v1\/message\/([^/]+)$/.exec(u.pathname);
      if (req.method === "GET" && one) {
        const m = messages.find((x) => x.guid === decodeURIComponent(one[1] ?? ""));
        if (!m) return json(res, 404, { status: 404, message: "Message does not exist!" });
        return json(res, 200, { status: 200, message: "Success", data: view(m) });
      }
      json(res, 404, { status: 404, message: "Not found" });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const eventBody = (m: BbStored, type = "new-message") => JSON.stringify({ type, data: view(m) });
  const post = (webhookUrl: string, body: string) => {
    const u = new URL(webhookUrl);
    return rawPost(`${u.protocol}//${u.host}`, u.pathname, { "content-type": "application/json" }, body);
  };
  const store = (m: Omit<BbStored, "guid" | "dateCreated" | "isFromMe">): BbStored => {
    const full = { guid: guid(), isFromMe: false, dateCreated: Date.now(), ...m };
    messages.push(full);
    return full;
  };
  const bySelf = (chatGuid: string) => messages.filter((m) => m.isFromMe && m.chatGuid === chatGuid);
  return {
    url,
    messages,
    get badPasswords() {
      return badPasswords;
    },
    textsIn: (chatGuid) => bySelf(chatGuid).map((m) => m.text),
    textsAfter(chatGuid, after) {
      const i = messages.findIndex((m) => m.guid === after);
      return messages
        .slice(i + 1)
        .filter((m) => m.isFromMe && m.chatGuid === chatGuid)
        .map((m) => m.text);
    },
    sent: (g) => messages.find((m) => m.guid === g && m.isFromMe),
    text: (webhookUrl, handle, text, chatGuid) =>
      post(webhookUrl, eventBody(store({ text, handle, chatGuid: chatGuid ?? `iMessage;-;${handle}` }))),
    tapback: (webhookUrl, handle, target, kind, chatGuid) =>
      post(
        webhookUrl,
        eventBody(
          store({
            text: `${kind.startsWith("-") ? "Removed a like from" : "Liked"} “…”`,
            handle,
            chatGuid: chatGuid ?? `iMessage;-;${handle}`,
            associatedMessageGuid: `p:0/${target}`,
            associatedMessageType: kind,
          }),
        ),
      ),
    eventBody,
    post,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
