/**
 * Our own small client of a BlueBubbles server (the app a user runs on their Mac with Messages
 * signed in: https://bluebubbles.app), the iMessage channel's only way to iMessage. Three calls:
 * send a text (`POST /api/v1/message/text`), read one message back (`GET /api/v1/message/{guid}`:
 * how every webhook is confirmed, since BlueBubbles signs none), and `GET /api/v1/server/info`
 * (`warden doctor`). Auth is the server password as the `password` query parameter (BlueBubbles has
 * no header form), so a URL here is a secret: it never reaches a log or an error; failures are stable
 * codes with the HTTP status at most. Every answer is parsed with zod.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";

export interface BlueBubblesOptions {
  /** `IMESSAGE_BLUEBUBBLES_URL`, e.g. `https://mac.example.ts.net:1234`. */
  readonly url: string;
  /** The server password, or a lookup read on each call (a Warden secret, read once the vault is open). */
  readonly password: string | (() => string | undefined);
  readonly timeoutMs?: number;
}

/** A message as the server reports it (what the channel reads of it). */
export interface BbMessage {
  readonly guid: string;
  readonly text: string;
  readonly isFromMe: boolean;
  /** The sender's address (phone in E.164, or email); absent on our own messages. */
  readonly handle?: string;
  /** The chat it is in (`iMessage;-;+1555…` one-to-one, `iMessage;+;chat…` a group). */
  readonly chatGuid?: string;
  readonly dateCreated: number;
  /** A tapback: the message it is on (`p:0/<guid>`) and its kind (`like`, `-like`, `dislike` …). */
  readonly associatedMessageGuid?: string;
  readonly associatedMessageType?: string;
}

export type BbErrorCode =
  | "bb_unauthorized"
  | "bb_not_found"
  | "bb_refused"
  | "bb_unreachable"
  | "bb_malformed";

export class BlueBubblesError extends Error {
  constructor(
    readonly code: BbErrorCode,
    readonly status?: number,
  ) {
    super(status ? `${code} (HTTP ${status})` : code);
    this.name = "BlueBubblesError";
  }
}

const Guid = z.string().min(1).max(200);
export const BbMessageShape = z.object({
  guid: Guid,
  text: z.string().max(100_000).nullable().optional(),
  isFromMe: z.boolean(),
  handle: z
    .object({ address: z.string().min(1).max(320) })
    .nullable()
    .optional(),
  chats: z
    .array(z.object({ guid: Guid }))
    .max(50)
    .optional(),
  dateCreated: z.number().int().nonnegative(),
  associatedMessageGuid: z.string().max(300).nullable().optional(),
  associatedMessageType: z
    .union([z.string().max(40), z.number()])
    .nullable()
    .optional(),
});
const Envelope = <T extends z.ZodTypeAny>(data: T) => z.object({ status: z.number(), data });
const Info = Envelope(
  z
    .object({ server_version: z.string().max(50).optional(), private_api: z.boolean().optional() })
    .passthrough(),
);

function toMessage(m: z.infer<typeof BbMessageShape>): BbMessage {
  return {
    guid: m.guid,
    text: m.text ?? "",
    isFromMe: m.isFromMe,
    ...(m.handle?.address ? { handle: m.handle.address } : {}),
    ...(m.chats?.[0]?.guid ? { chatGuid: m.chats[0].guid } : {}),
    dateCreated: m.dateCreated,
    ...(m.associatedMessageGuid ? { associatedMessageGuid: m.associatedMessageGuid } : {}),
    ...(m.associatedMessageType != null ? { associatedMessageType: String(m.associatedMessageType) } : {}),
  };
}

export interface BlueBubbles {
  sendText(chatGuid: string, text: string): Promise<string>;
  /** The message as the server has it; `bb_not_found` when it has none by that guid. */
  message(guid: string): Promise<BbMessage>;
  info(): Promise<{ serverVersion?: string; privateApi?: boolean }>;
}

export function createBlueBubbles(o: BlueBubblesOptions): BlueBubbles {
  const base = o.url.replace(/\/+$/, "");
  async function call<T>(
    method: "GET" | "POST",
    path: string,
    schema: z.ZodType<T>,
    body?: unknown,
    query = "",
  ): Promise<T> {
    const password = typeof o.password === "function" ? o.password() : o.password;
    if (!password) throw new BlueBubblesError("bb_unauthorized");
    const url = `${base}/api/v1/${path}?password=${encodeURIComponent(password)}${query}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: "error",
        signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
      });
    } catch {
      // fetch's error (and its cause) can name the URL, password included: never passed on.
      throw new BlueBubblesError("bb_unreachable");
    }
    const text = await res.text().catch(() => "");
    if (res.status === 401 || res.status === 403) throw new BlueBubblesError("bb_unauthorized", res.status);
    if (res.status === 404) throw new BlueBubblesError("bb_not_found", 404);
    if (!res.ok) throw new BlueBubblesError("bb_refused", res.status);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new BlueBubblesError("bb_malformed");
    }
    const r = schema.safeParse(json);
    if (!r.success) throw new BlueBubblesError("bb_malformed");
    return r.data;
  }
  return {
    async sendText(chatGuid, text) {
      const r = await call(
        "POST",
        "message/text",
        Envelope(BbMessageShape.pick({ guid: true }).passthrough()),
        {
          chatGuid,
          tempGuid: `temp-${randomUUID()}`,
          message: text,
          // AppleScript works without the Private API (which needs SIP off on the Mac).
          method: "apple-script",
        },
      );
      return r.data.guid;
    },
    async message(guid) {
      const r = await call(
        "GET",
        `message/${encodeURIComponent(guid)}`,
        Envelope(BbMessageShape),
        undefined,
        "&with=chats,handle",
      );
      if (r.data.guid !== guid) throw new BlueBubblesError("bb_malformed");
      return toMessage(r.data);
    },
    async info() {
      const r = await call("GET", "server/info", Info);
      return {
        ...(r.data.server_version ? { serverVersion: r.data.server_version } : {}),
        ...(r.data.private_api !== undefined ? { privateApi: r.data.private_api } : {}),
      };
    },
  };
}
