/**
 * The X (Twitter) API v2 calls the X channel makes, through `twitter-api-v2` (the only importer of
 * it): who the bot is (`GET /2/users/me`), the DM timeline (`GET /2/dm_events`, newest first), and
 * sending a DM (`POST /2/dm_conversations/with/:id/messages` or `…/:conversation_id/messages`). The
 * library hard-codes `https://api.x.com`: an alternative base (`X_API_URL`, e.g. a fake on 127.0.0.1)
 * is reached by rewriting each request's URL in an `onBeforeRequest` plugin, over a plain `http.Agent`
 * when the base is `http:` (PLATFORM-NOTES-2 §5.8). Every answer is parsed with zod; library errors
 * (which carry the signed request) are replaced by our own stable codes so no token reaches a log.
 */
import { Agent } from "node:http";
import { TwitterApi } from "twitter-api-v2";
import { z } from "zod";

export interface XCredentials {
  /** Consumer (app) key and secret, user access token and secret: OAuth 1.0a user context. */
  readonly appKey: string;
  readonly appSecret: string;
  readonly accessToken: string;
  readonly accessSecret: string;
  /** Alternative API base (`X_API_URL`); default the library's `https://api.x.com`. */
  readonly apiUrl?: string;
}

/** One DM event, as far as the channel reads it (everything else ignored). */
export interface XDmEvent {
  readonly id: string;
  readonly text: string;
  readonly senderId: string;
  readonly conversationId: string;
}

export interface XDmPage {
  /** Newest first, as X returns them. */
  readonly events: readonly XDmEvent[];
  readonly nextToken?: string;
}

export interface XApi {
  me(): Promise<{ id: string; username: string }>;
  dmEvents(paginationToken?: string): Promise<XDmPage>;
  /** To a person (1:1 conversation) or, with `conversation`, to a group conversation. */
  sendDm(to: { participant: string } | { conversation: string }, text: string): Promise<string>;
}

/** Stable error codes: the status only, never the library's error (it holds the signed request). */
export class XApiError extends Error {
  constructor(
    readonly code: "x_unauthorized" | "x_rate_limited" | "x_refused" | "x_unreachable" | "x_malformed",
    readonly status?: number,
  ) {
    super(status ? `${code} (HTTP ${status})` : code);
    this.name = "XApiError";
  }
}

const Id = z.string().regex(/^[0-9]{1,25}$/);
const MeAnswer = z.object({ data: z.object({ id: Id, username: z.string().max(64) }) });
const DmAnswer = z.object({
  data: z
    .array(
      z.object({
        id: Id,
        event_type: z.string(),
        text: z.string().max(20_000).optional(),
        sender_id: Id.optional(),
        dm_conversation_id: z.string().max(100).optional(),
      }),
    )
    .optional(),
  meta: z.object({ next_token: z.string().max(200).optional() }).optional(),
});
const SendAnswer = z.object({ data: z.object({ dm_event_id: Id }) });

function wrap(err: unknown): XApiError {
  if (err instanceof XApiError) return err;
  const status = (err as { code?: unknown })?.code;
  if (typeof status === "number" && status >= 100) {
    if (status === 401 || status === 403) return new XApiError("x_unauthorized", status);
    if (status === 429) return new XApiError("x_rate_limited", status);
    return new XApiError("x_refused", status);
  }
  return new XApiError("x_unreachable");
}

function parsed<T>(schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (!r.success) throw new XApiError("x_malformed");
  return r.data;
}

export function createXApi(c: XCredentials): XApi {
  const base = c.apiUrl ? new URL(c.apiUrl) : undefined;
  const prefix = base ? base.pathname.replace(/\/+$/, "") : "";
  const client = new TwitterApi(
    { appKey: c.appKey, appSecret: c.appSecret, accessToken: c.accessToken, accessSecret: c.accessSecret },
    {
      ...(base?.protocol === "http:" ? { httpAgent: new Agent({ keepAlive: true }) } : {}),
      plugins: base
        ? [
            {
              onBeforeRequest({ computedParams }) {
                const u = computedParams.url;
                u.protocol = base.protocol;
                u.host = base.host;
                u.pathname = `${prefix}${u.pathname}`;
              },
            },
          ]
        : [],
    },
  ).v2;
  return {
    async me() {
      const r = parsed(MeAnswer, await client.get("users/me").catch((e) => Promise.reject(wrap(e))));
      return { id: r.data.id, username: r.data.username };
    },
    async dmEvents(paginationToken) {
      const query: Record<string, string> = {
        event_types: "MessageCreate",
        "dm_event.fields": "id,event_type,text,sender_id,dm_conversation_id,created_at",
        max_results: "100",
        ...(paginationToken ? { pagination_token: paginationToken } : {}),
      };
      const r = parsed(DmAnswer, await client.get("dm_events", query).catch((e) => Promise.reject(wrap(e))));
      const events: XDmEvent[] = [];
      for (const e of r.data ?? [])
        if (e.event_type === "MessageCreate" && e.sender_id && e.dm_conversation_id)
          events.push({
            id: e.id,
            text: e.text ?? "",
            senderId: e.sender_id,
            conversationId: e.dm_conversation_id,
          });
      return { events, ...(r.meta?.next_token ? { nextToken: r.meta.next_token } : {}) };
    },
    async sendDm(to, text) {
      const sent =
        "participant" in to
          ? client.sendDmToParticipant(to.participant, { text })
          : client.sendDmInConversation(to.conversation, { text });
      return parsed(SendAnswer, await sent.catch((e) => Promise.reject(wrap(e)))).data.dm_event_id;
    },
  };
}
