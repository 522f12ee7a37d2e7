/**
 * Our own small client for Meta's Send API, shared by Messenger (page access token, graph.facebook.com)
 * and Instagram (Instagram access token, graph.instagram.com): `POST {api}/{version}/me/messages`
 * and `GET {api}/{version}/me` (the doctor's check). The token goes in the `Authorization` header,
 * never in a URL, so no URL we could log or quote holds it. Answers are untrusted and parsed with zod;
 * errors carry Meta's numeric code and subcode only (never its message text, never the token).
 */
import { z } from "zod";

export const GRAPH_VERSION = "v25.0";

const Sent = z.object({
  recipient_id: z.string().max(256).optional(),
  message_id: z.string().min(1).max(512),
});
const GraphError = z.object({
  error: z.object({
    code: z.number().int().optional(),
    error_subcode: z.number().int().optional(),
  }),
});
const Me = z.object({
  id: z.string().min(1).max(256),
  name: z.string().max(256).optional(),
  username: z.string().max(256).optional(),
});

/**
 * Meta's refusals of a message outside the 24-hour window: Messenger `10`/`2018278`, Instagram
 * `10`/`2534022`; `551` is "this person isn't available right now" (blocked, or never wrote).
 */
const WINDOW_SUBCODES = new Set([2018278, 2534022]);

/** A Send API call that failed: `status` 0 when nothing answered. Carries no secret and no words of Meta. */
export class GraphApiError extends Error {
  override readonly name = "GraphApiError";
  constructor(
    readonly call: string,
    readonly status: number,
    readonly code?: number,
    readonly subcode?: number,
  ) {
    super(
      `graph ${call} failed: ${status === 0 ? "unreachable" : `HTTP ${status}`}${code ? ` (code ${code}${subcode ? `/${subcode}` : ""})` : ""}`,
    );
  }
  /** Whether Meta refused because the person's messaging window is closed. */
  get windowClosed(): boolean {
    return (
      (this.code === 10 && this.subcode !== undefined && WINDOW_SUBCODES.has(this.subcode)) ||
      this.code === 551
    );
  }
}

/** A Send API message: text, or a template attachment; optional quick replies. */
export type GraphMessage = Record<string, unknown>;

export interface GraphSendApi {
  /** Sends one message to the person `recipientId` (PSID or IGSID); returns its `mid`. */
  send(recipientId: string, message: GraphMessage): Promise<string>;
  me(): Promise<{ id: string; name?: string }>;
}

export function createGraphSendApi(o: {
  token: string;
  apiUrl: string;
  version?: string;
  maxRetries?: number;
  timeoutMs?: number;
}): GraphSendApi {
  const base = `${o.apiUrl.replace(/\/+$/, "")}/${o.version ?? GRAPH_VERSION}`;

  async function call<T>(
    name: string,
    method: string,
    path: string,
    schema: z.ZodType<T>,
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
        throw new GraphApiError(name, 0);
      }
      const json: unknown = await res.json().catch(() => undefined);
      if (res.ok) {
        const parsed = schema.safeParse(json);
        if (!parsed.success) throw new GraphApiError(`${name} (unexpected answer)`, res.status);
        return parsed.data;
      }
      const err = GraphError.safeParse(json);
      const code = err.success ? err.data.error.code : undefined;
      // 4/32/613: rate limits; retried a few times, briefly (Meta sends no Retry-After here).
      if (
        (res.status === 429 || code === 4 || code === 32 || code === 613) &&
        attempt < (o.maxRetries ?? 2)
      ) {
        await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
        continue;
      }
      throw new GraphApiError(name, res.status, code, err.success ? err.data.error.error_subcode : undefined);
    }
  }

  return {
    send: async (recipientId, message) =>
      (
        await call("me/messages", "POST", "/me/messages", Sent, {
          recipient: { id: recipientId },
          messaging_type: "RESPONSE",
          message,
        })
      ).message_id,
    me: () => call("me", "GET", "/me?fields=id,name", Me),
  };
}
