/**
 * A fake WhatsApp Business Cloud API (Meta Graph) on 127.0.0.1 for the real
 * `@chat-adapter/whatsapp` (`apiUrl`), and Meta's side of webhooks: `tap()` and `text()` post
 * deliveries signed with `x-hub-signature-256` (HMAC-SHA256 with the app secret) carrying a signed
 * message `timestamp`, as Meta does. Sent messages are recorded with their interactive buttons.
 * With `enforceWindow`, like Meta it refuses any free-form message (not a template) to a person who
 * has not written within 24 hours, with Graph error 131047 "Re-engagement message".
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hubSignature, type RawAnswer, rawPost } from "./webhook-client.js";

export interface SentWa {
  readonly id: string;
  readonly to: string;
  readonly type: string;
  readonly text?: string;
  readonly body?: string;
  readonly buttons: { readonly id: string; readonly title: string }[];
  /** A template message: its name, language and whatever parameters were sent with it. */
  readonly template?: { readonly name: string; readonly language: string; readonly components?: unknown };
}

export interface FakeWaCloud {
  readonly url: string;
  readonly sent: SentWa[];
  /** `from` tapping the reply button `buttonId` on the message `cardId`. */
  tap(
    webhooksUrl: string,
    o: { from: string; cardId: string; buttonId: string; title: string },
  ): Promise<RawAnswer>;
  text(webhooksUrl: string, o: { from: string; text: string; at?: number }): Promise<RawAnswer>;
  /** Free-form sends Meta refused for a closed window. */
  readonly refused: { readonly to: string; readonly type: string }[];
  /** As if `user` last wrote more than 24 hours ago. */
  closeWindow(user: string): void;
  close(): Promise<void>;
}

export async function startFakeWaCloud(o: {
  appSecret: string;
  phoneNumberId: string;
  enforceWindow?: boolean;
  /** When given, `GET /{version}/{phone number id}` (what warden doctor asks) wants it as a Bearer token. */
  accessToken?: string;
}): Promise<FakeWaCloud> {
  const sent: SentWa[] = [];
  const refused: { to: string; type: string }[] = [];
  /** When each person last wrote (what Meta's window counts from). */
  const lastIn = new Map<string, number>();
  let next = 1;
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      if (req.method === "GET") {
        const ok = !o.accessToken || req.headers.authorization === `Bearer ${o.accessToken}`;
        const mine = (req.url ?? "").split("?")[0]?.endsWith(`/${o.phoneNumberId}`);
        res.writeHead(ok && mine ? 200 : ok ? 404 : 401, { "content-type": "application/json" });
        return res.end(
          JSON.stringify(
            !ok
              ? { error: { message: "Invalid OAuth access token", type: "OAuthException", code: 190 } }
              : mine
                ? {
                    id: o.phoneNumberId,
                    display_phone_number: "+1 555-000-0000",
                    verified_name: "Warden Test",
                  }
                : { error: { message: "Unsupported get request", type: "GraphMethodException", code: 100 } },
          ),
        );
      }
      const m = JSON.parse(raw || "{}") as {
        to?: string;
        type?: string;
        status?: string;
        template?: { name: string; language?: { code?: string }; components?: unknown };
        text?: { body?: string };
        interactive?: {
          body?: { text?: string };
          action?: { buttons?: { reply: { id: string; title: string } }[] };
        };
      };
      const last = lastIn.get(m.to ?? "");
      if (
        o.enforceWindow &&
        m.status !== "read" &&
        m.type !== "template" &&
        (last === undefined || Date.now() - last > 24 * 3600_000)
      ) {
        refused.push({ to: m.to ?? "", type: m.type ?? "" });
        res.writeHead(400, { "content-type": "application/json" });
        return res.end(
          JSON.stringify({
            error: {
              message: "(#131047) Re-engagement message",
              type: "OAuthException",
              code: 131047,
              error_data: {
                messaging_product: "whatsapp",
                details:
                  "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
              },
              fbtrace_id: "AbCdEf",
            },
          }),
        );
      }
      res.writeHead(200, { "content-type": "application/json" });
      if (m.status === "read") return res.end(JSON.stringify({ success: true }));
      const id = `wamid.out.${next++}`;
      sent.push({
        id,
        to: m.to ?? "",
        type: m.type ?? "",
        ...(m.text?.body !== undefined ? { text: m.text.body } : {}),
        ...(m.interactive?.body?.text !== undefined ? { body: m.interactive.body.text } : {}),
        buttons: (m.interactive?.action?.buttons ?? []).map((b) => b.reply),
        ...(m.template
          ? {
              template: {
                name: m.template.name,
                language: m.template.language?.code ?? "",
                ...(m.template.components !== undefined ? { components: m.template.components } : {}),
              },
            }
          : {}),
      });
      res.end(
        JSON.stringify({
          messaging_product: "whatsapp",
          contacts: [{ input: m.to, wa_id: m.to }],
          messages: [{ id }],
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const deliver = (webhooksUrl: string, from: string, message: Record<string, unknown>) => {
    lastIn.set(from, Number(message.timestamp) * 1000);
    const body = JSON.stringify({
      object: "whatsapp_business_account",
      entry: [
        {
          id: "waba-1",
          changes: [
            {
              field: "messages",
              value: {
                messaging_product: "whatsapp",
                metadata: { display_phone_number: "15550000000", phone_number_id: o.phoneNumberId },
                contacts: [{ profile: { name: `user ${from}` }, wa_id: from }],
                messages: [{ from, id: `wamid.in.${next++}`, ...message }],
              },
            },
          ],
        },
      ],
    });
    return rawPost(
      webhooksUrl,
      "/webhooks/wacloud",
      { "content-type": "application/json", "x-hub-signature-256": hubSignature(o.appSecret, body) },
      body,
    );
  };
  const ts = (at = Date.now()) => String(Math.floor(at / 1000));
  return {
    url,
    sent,
    refused,
    closeWindow: (user) => lastIn.set(user, Date.now() - 25 * 3600_000),
    tap: (w, t) =>
      deliver(w, t.from, {
        timestamp: ts(),
        type: "interactive",
        context: { from: "15550000000", id: t.cardId },
        interactive: { type: "button_reply", button_reply: { id: t.buttonId, title: t.title } },
      }),
    text: (w, t) => deliver(w, t.from, { timestamp: ts(t.at), type: "text", text: { body: t.text } }),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
