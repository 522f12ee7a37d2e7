/**
 * Our own small Webex REST client (the official SDK is not open source and 529 MB): the seven calls
 * the channel needs, with `Authorization: Bearer <bot token>` against `WEBEX_API_URL` (default
 * https://webexapis.com/v1). Every answer is untrusted and parsed with zod; an error names the call
 * and the status only (never the token, a URL with ids, or the platform's words). 429 is retried
 * after `Retry-After` (bounded). Ids that go into a path are percent-encoded.
 */
import { z } from "zod";

export const DEFAULT_WEBEX_API = "https://webexapis.com/v1";

const Id = z.string().min(1).max(256);

export const WebexPerson = z.object({ id: Id, displayName: z.string().max(256).optional() });
export type WebexPerson = z.infer<typeof WebexPerson>;

export const WebexMessage = z.object({
  id: Id,
  roomId: Id,
  roomType: z.enum(["direct", "group"]).optional(),
  personId: Id.optional(),
  personEmail: z.string().max(320).optional(),
  text: z.string().max(50_000).optional(),
  mentionedPeople: z.array(Id).max(1000).optional(),
});
export type WebexMessage = z.infer<typeof WebexMessage>;

export const WebexAction = z.object({
  id: Id,
  type: z.string().max(32),
  messageId: Id,
  personId: Id,
  roomId: Id,
  inputs: z.record(z.string(), z.unknown()).optional(),
});
export type WebexAction = z.infer<typeof WebexAction>;

const WebexRoom = z.object({ id: Id, type: z.enum(["direct", "group"]) });
const WebexWebhook = z.object({ id: Id, targetUrl: z.string().max(2048), resource: z.string().max(64) });
const WebhookList = z.object({ items: z.array(WebexWebhook).max(1000) });

/** A Webex call that failed: `status` 0 when nothing answered. The message carries no secret. */
export class WebexApiError extends Error {
  override readonly name = "WebexApiError";
  constructor(
    readonly call: string,
    readonly status: number,
  ) {
    super(`webex ${call} failed: ${status === 0 ? "unreachable" : `HTTP ${status}`}`);
  }
}

/** Where a message goes: a room, or a person (their direct room with the bot). */
export type WebexTarget = { readonly roomId: string } | { readonly toPersonId: string };

export interface WebexMessageBody {
  readonly text?: string;
  readonly markdown?: string;
  readonly attachments?: readonly { readonly contentType: string; readonly content: unknown }[];
}

export interface WebexApi {
  me(): Promise<WebexPerson>;
  send(to: WebexTarget, body: WebexMessageBody): Promise<WebexMessage>;
  message(id: string): Promise<WebexMessage>;
  action(id: string): Promise<WebexAction>;
  room(id: string): Promise<{ id: string; type: "direct" | "group" }>;
  deleteMessage(id: string): Promise<void>;
  /** Replaces our webhooks for `targetUrl` by one per resource, signed with `secret`. */
  registerWebhooks(targetUrl: string, resources: readonly string[], secret: string): Promise<void>;
}

export function createWebexApi(o: {
  token: string;
  apiUrl?: string;
  maxRetries?: number;
  timeoutMs?: number;
}): WebexApi {
  const base = (o.apiUrl ?? DEFAULT_WEBEX_API).replace(/\/+$/, "");
  const seg = encodeURIComponent;

  async function call<T>(
    name: string,
    method: string,
    path: string,
    schema: z.ZodType<T> | undefined,
    body?: unknown,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          redirect: "error",
          headers: {
            authorization: `Bearer ${o.token}`,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(o.timeoutMs ?? 15_000),
        });
      } catch {
        throw new WebexApiError(name, 0);
      }
      if (res.status === 429 && attempt < (o.maxRetries ?? 3)) {
        await res.body?.cancel();
        const wait = Math.min(Math.max(Number(res.headers.get("retry-after")) || 1, 0), 30);
        await new Promise((r) => setTimeout(r, wait * 1000));
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new WebexApiError(name, res.status);
      }
      if (!schema) {
        await res.body?.cancel();
        return undefined as T;
      }
      const parsed = schema.safeParse(await res.json().catch(() => undefined));
      if (!parsed.success) throw new WebexApiError(`${name} (unexpected answer)`, res.status);
      return parsed.data;
    }
  }

  return {
    me: () => call("people/me", "GET", "/people/me", WebexPerson),
    send: (to, body) => call("messages", "POST", "/messages", WebexMessage, { ...to, ...body }),
    message: (id) => call("messages/get", "GET", `/messages/${seg(id)}`, WebexMessage),
    action: (id) => call("attachment/actions", "GET", `/attachment/actions/${seg(id)}`, WebexAction),
    room: (id) => call("rooms/get", "GET", `/rooms/${seg(id)}`, WebexRoom),
    deleteMessage: (id) => call("messages/delete", "DELETE", `/messages/${seg(id)}`, undefined),
    async registerWebhooks(targetUrl, resources, secret) {
      const { items } = await call("webhooks/list", "GET", "/webhooks?max=100", WebhookList);
      // Ours from an earlier start (same target): their secret cannot be read back, so replace them.
      for (const w of items.filter((x) => x.targetUrl === targetUrl))
        await call("webhooks/delete", "DELETE", `/webhooks/${seg(w.id)}`, undefined);
      for (const resource of resources)
        await call("webhooks/create", "POST", "/webhooks", WebexWebhook, {
          name: `warden ${resource}`,
          targetUrl,
          resource,
          event: "created",
          secret,
        });
    },
  };
}
