/**
 * A fake Meta Graph Send API on 127.0.0.1 for Messenger or Instagram (one instance per platform), and
 * Meta's side of webhooks: people write and press postback buttons here, and the fake POSTs the
 * deliveries Meta sends (`object: "page"` or `"instagram"`, `entry[].messaging[]`) signed with
 * `x-hub-signature-256` (HMAC-SHA256 with the app secret). It enforces what Meta does: the bearer
 * token, the 24-hour window from the person's last message (error 10 with Messenger's 2018278 or
 * Instagram's 2534022 subcode), text limits (2000 / 1000), the button template (text ≤ 640, 1–3
 * postbacks, title ≤ 20, payload ≤ 1000) and the generic template (title, subtitle ≤ 80).
 */
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { hubSignature, type RawAnswer, rawPost } from "./webhook-client.js";

export interface MetaButton {
  readonly type: string;
  readonly title: string;
  readonly payload: string;
}
export interface MetaSent {
  readonly mid: string;
  readonly to: string;
  readonly text?: string;
  /** Template text (button template) or title + subtitle (generic template). */
  readonly templateText?: string;
  readonly buttons: readonly MetaButton[];
}
export interface MetaDeliveryOut {
  readonly answer: RawAnswer;
  readonly headers: Record<string, string>;
  readonly body: string;
}
interface DeliverOptions {
  readonly at?: number;
  readonly secret?: string;
  readonly unsigned?: boolean;
}

export interface FakeMetaGraph {
  readonly url: string;
  readonly token: string;
  readonly sent: MetaSent[];
  /** Refused sends (window, limits), by code. */
  readonly refused: { to: string; code: number; subcode?: number }[];
  /** Opens (or moves) `user`'s window as if they wrote at `at` without a webhook (tests' seed). */
  openWindow(user: string, at?: number): void;
  text(webhooksUrl: string, from: string, text: string, o?: DeliverOptions): Promise<MetaDeliveryOut>;
  postback(webhooksUrl: string, from: string, payload: string, o?: DeliverOptions): Promise<MetaDeliveryOut>;
  /** Our own message echoed back (`is_echo`), as Meta does for pages. */
  echo(webhooksUrl: string, to: string, text: string): Promise<MetaDeliveryOut>;
  close(): Promise<void>;
}

export async function startFakeMetaGraph(o: {
  platform: "messenger" | "instagram";
  appSecret: string;
  token?: string;
  version?: string;
}): Promise<FakeMetaGraph> {
  const token = o.token ?? `${o.platform}-token-for-tests`;
  const version = o.version ?? "v25.0";
  const owner = o.platform === "messenger" ? "page-1" : "ig-1";
  const textMax = o.platform === "messenger" ? 2000 : 1000;
  const sent: MetaSent[] = [];
  const refused: FakeMetaGraph["refused"] = [];
  const lastInbound = new Map<string, number>();
  let next = 1;

  function answer(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }
  const error = (res: ServerResponse, to: string, code: number, subcode?: number, message = "refused") => {
    refused.push({ to, code, ...(subcode ? { subcode } : {}) });
    answer(res, 400, {
      error: { message, type: "OAuthException", code, ...(subcode ? { error_subcode: subcode } : {}) },
    });
  };

  type Btn = { type?: string; title?: string; payload?: string };
  const buttonsOk = (b: Btn[] | undefined) =>
    Array.isArray(b) &&
    b.length >= 1 &&
    b.length <= 3 &&
    b.every(
      (x) =>
        x.type === "postback" &&
        typeof x.title === "string" &&
        x.title.length <= 20 &&
        (x.payload ?? "").length <= 1000,
    );

  function post(res: ServerResponse, raw: string) {
    const b = JSON.parse(raw || "{}") as {
      recipient?: { id?: string };
      message?: {
        text?: string;
        attachment?: {
          type?: string;
          payload?: {
            template_type?: string;
            text?: string;
            buttons?: Btn[];
            elements?: { title?: string; subtitle?: string; buttons?: Btn[] }[];
          };
        };
      };
    };
    const to = b.recipient?.id ?? "";
    const at = lastInbound.get(to);
    if (at === undefined || Date.now() - at > 24 * 3600_000)
      return error(res, to, 10, o.platform === "messenger" ? 2018278 : 2534022, "outside of allowed window");
    const m = b.message ?? {};
    let rec: MetaSent | undefined;
    if (typeof m.text === "string") {
      if (m.text.length > textMax || m.text.length === 0)
        return error(res, to, 100, undefined, "text length");
      rec = { mid: `m_${next++}`, to, text: m.text, buttons: [] };
    } else if (m.attachment?.type === "template") {
      const p = m.attachment.payload ?? {};
      if (o.platform === "messenger" && p.template_type === "button") {
        if (typeof p.text !== "string" || p.text.length > 640 || !buttonsOk(p.buttons))
          return error(res, to, 100, undefined, "button template");
        rec = { mid: `m_${next++}`, to, templateText: p.text, buttons: p.buttons as MetaButton[] };
      } else if (p.template_type === "generic") {
        const e = p.elements?.[0];
        if (
          p.elements?.length !== 1 ||
          !e ||
          typeof e.title !== "string" ||
          e.title.length > 80 ||
          (e.subtitle ?? "").length > 80 ||
          !buttonsOk(e.buttons)
        )
          return error(res, to, 100, undefined, "generic template");
        rec = {
          mid: `m_${next++}`,
          to,
          templateText: `${e.title}\n${e.subtitle ?? ""}`,
          buttons: e.buttons as MetaButton[],
        };
      }
    }
    if (!rec) return error(res, to, 100, undefined, "unsupported message");
    sent.push(rec);
    answer(res, 200, { recipient_id: to, message_id: rec.mid });
  }

  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      if (req.headers.authorization !== `Bearer ${token}`)
        return answer(res, 401, { error: { message: "Invalid OAuth access token", code: 190 } });
      const path = (req.url ?? "").split("?")[0];
      if (req.method === "GET" && path === `/${version}/me`)
        return answer(res, 200, { id: owner, name: "Warden" });
      if (req.method === "POST" && path === `/${version}/me/messages`) return post(res, raw);
      answer(res, 404, { error: { message: "unknown path", code: 803 } });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function deliver(
    webhooksUrl: string,
    event: Record<string, unknown>,
    d: DeliverOptions = {},
  ): Promise<MetaDeliveryOut> {
    const at = d.at ?? Date.now();
    const body = JSON.stringify({
      object: o.platform === "messenger" ? "page" : "instagram",
      entry: [{ id: owner, time: at, messaging: [{ timestamp: at, ...event }] }],
    });
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (!d.unsigned) headers["x-hub-signature-256"] = hubSignature(d.secret ?? o.appSecret, body);
    return rawPost(webhooksUrl, `/webhooks/${o.platform}`, headers, body).then((answer) => ({
      answer,
      headers,
      body,
    }));
  }
  const inbound = (from: string, d: DeliverOptions = {}) => {
    // Only what Meta really sent opens a window (forgeries do not reach Meta at all).
    if (!d.secret && !d.unsigned)
      lastInbound.set(from, Math.max(lastInbound.get(from) ?? 0, d.at ?? Date.now()));
  };

  return {
    url,
    token,
    sent,
    refused,
    openWindow: (user, at = Date.now()) => void lastInbound.set(user, at),
    text(w, from, text, d) {
      inbound(from, d);
      return deliver(
        w,
        { sender: { id: from }, recipient: { id: owner }, message: { mid: `m_in_${next++}`, text } },
        d,
      );
    },
    postback(w, from, payload, d) {
      inbound(from, d);
      return deliver(
        w,
        {
          sender: { id: from },
          recipient: { id: owner },
          postback: { mid: `m_pb_${next++}`, title: "button", payload },
        },
        d,
      );
    },
    echo: (w, to, text) =>
      deliver(w, {
        sender: { id: owner },
        recipient: { id: to },
        message: { mid: `m_echo_${next++}`, is_echo: true, text },
      }),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
