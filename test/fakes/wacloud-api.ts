/**
 * A fake WhatsApp Business Cloud API (Meta Graph) on 127.0.0.1 for the real
 * `@chat-adapter/whatsapp` (`apiUrl`), and Meta's side of webhooks: `tap()` and `text()` post
 * deliveries signed with `x-hub-signature-256` (HMAC-SHA256 with the app secret) carrying a signed
 * message `timestamp`, as Meta does. Sent messages are recorded with their interactive buttons.
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
  close(): Promise<void>;
}

export async function startFakeWaCloud(o: {
  appSecret: string;
  phoneNumberId: string;
}): Promise<FakeWaCloud> {
  const sent: SentWa[] = [];
  let next = 1;
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      const m = JSON.parse(raw || "{}") as {
        to?: string;
        type?: string;
        status?: string;
        text?: { body?: string };
        interactive?: {
          body?: { text?: string };
          action?: { buttons?: { reply: { id: string; title: string } }[] };
        };
      };
      if (m.status === "read") return res.end(JSON.stringify({ success: true }));
      const id = `wamid.out.${next++}`;
      sent.push({
        id,
        to: m.to ?? "",
        type: m.type ?? "",
        ...(m.text?.body !== undefined ? { text: m.text.body } : {}),
        ...(m.interactive?.body?.text !== undefined ? { body: m.interactive.body.text } : {}),
        buttons: (m.interactive?.action?.buttons ?? []).map((b) => b.reply),
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
