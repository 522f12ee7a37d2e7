/**
 * The shared webhook listener against hostile senders, over raw sockets: unsigned, forged, stale,
 * future-dated, replayed, oversized and slow deliveries are refused and never reach a handler; the
 * genuine one does, exactly once. Real HMAC verifiers (GitHub, Linear, WhatsApp Cloud).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { githubVerifier, linearVerifier, whatsappCloudVerifier } from "../../bot/webhooks/hmac-verifiers.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import type { WebhookDelivery, WebhookVerifier } from "../../bot/webhooks/webhook-verifier.js";
import { hubSignature, linearSignature, rawPost } from "../fakes/webhook-client.js";

const GH_SECRET = "gh-webhook-secret-for-tests";
const LIN_SECRET = "linear-webhook-secret-for-tests";
const WA_SECRET = "meta-app-secret-for-tests";

let l: WebhookListener;
let handled: { platform: string; body: string }[];
let answerStatus: number;
const logs: { event: string; fields?: Record<string, unknown> }[] = [];

function routeFor(verifier: WebhookVerifier): void {
  l.route({
    verifier,
    handle: async (d: WebhookDelivery) => {
      handled.push({ platform: verifier.platform, body: d.body.toString() });
      return { status: answerStatus, body: "{}" };
    },
  });
}

beforeEach(async () => {
  handled = [];
  answerStatus = 200;
  l = await startWebhookListener({
    host: "127.0.0.1",
    port: 0,
    log: (event, fields) => void logs.push({ event, fields }),
    bodyTimeoutMs: 500,
  });
  routeFor(githubVerifier(GH_SECRET));
  routeFor(linearVerifier(LIN_SECRET));
  routeFor(whatsappCloudVerifier(WA_SECRET, "verify-me"));
});
afterEach(() => l.close());

const ghComment = (id: number, at = new Date().toISOString(), text = "/approve k3f9x2"): string =>
  JSON.stringify({
    action: "created",
    comment: { id, body: text, created_at: at, user: { id: 77, login: "ann" } },
    issue: { number: 7 },
    repository: { full_name: "acme/app" },
    sender: { id: 77, login: "ann" },
  });
const gh = (body: string, sig = hubSignature(GH_SECRET, body), event = "issue_comment") =>
  rawPost(l.url, "/webhooks/github", { "x-github-event": event, "x-hub-signature-256": sig }, body);

describe("webhook listener: GitHub", () => {
  it("a genuine comment reaches the handler once", async () => {
    expect((await gh(ghComment(1))).status).toBe(200);
    expect(handled).toHaveLength(1);
  });

  it("refuses an unsigned delivery with 401 and hands it to nobody", async () => {
    const body = ghComment(2);
    const r = await rawPost(l.url, "/webhooks/github", { "x-github-event": "issue_comment" }, body);
    expect(r.status).toBe(401);
    expect(handled).toEqual([]);
  });

  it("refuses a signature made with another secret, a body changed after signing, a malformed header", async () => {
    const body = ghComment(3);
    expect((await gh(body, hubSignature("wrong", body))).status).toBe(401);
    expect((await gh(body.replace("k3f9x2", "zzzzzz"), hubSignature(GH_SECRET, body))).status).toBe(401);
    expect((await gh(body, hubSignature(GH_SECRET, body).replace("sha256=", "sha1="))).status).toBe(401);
    expect((await gh(body, `${hubSignature(GH_SECRET, body)}00`)).status).toBe(401);
    expect(handled).toEqual([]);
  });

  it("refuses a byte-identical replay with 409 and no effect", async () => {
    const body = ghComment(4);
    expect((await gh(body)).status).toBe(200);
    expect((await gh(body)).status).toBe(409);
    expect(handled).toHaveLength(1);
  });

  it("refuses the same comment id re-signed in a different body (409)", async () => {
    expect((await gh(ghComment(5))).status).toBe(200);
    expect((await gh(ghComment(5, new Date().toISOString(), "/approve k3f9x2 "))).status).toBe(409);
    expect(handled).toHaveLength(1);
  });

  it("two copies racing: exactly one is handled", async () => {
    const body = ghComment(6);
    const [a, b] = await Promise.all([gh(body), gh(body)]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect(handled).toHaveLength(1);
  });

  it("refuses a comment signed 6 minutes ago, and one dated 6 minutes ahead, with 400", async () => {
    const old = new Date(Date.now() - 6 * 60_000).toISOString();
    const ahead = new Date(Date.now() + 6 * 60_000).toISOString();
    expect((await gh(ghComment(8, old))).status).toBe(400);
    expect((await gh(ghComment(9, ahead))).status).toBe(400);
    expect(handled).toEqual([]);
  });

  it("ignores signed events the bot never acts on (ping, edits): 200, nobody handles them", async () => {
    const ping = JSON.stringify({ zen: "hi", hook_id: 1 });
    expect((await gh(ping, hubSignature(GH_SECRET, ping), "ping")).status).toBe(200);
    const edit = ghComment(10).replace('"created"', '"edited"');
    expect((await gh(edit)).status).toBe(200);
    expect(handled).toEqual([]);
  });

  it("a delivery the bot failed on (500) may be retried by the platform", async () => {
    answerStatus = 500;
    const body = ghComment(11);
    expect((await gh(body)).status).toBe(500);
    answerStatus = 200;
    expect((await gh(body)).status).toBe(200);
    expect(handled).toHaveLength(2);
  });
});

describe("webhook listener: limits and routing", () => {
  it("refuses a declared oversized body with 413 before reading it", async () => {
    const r = await rawPost(l.url, "/webhooks/github", {}, "", {
      declaredLength: 50_000_000,
      writeBody: false,
    });
    expect(r.status).toBe(413);
    expect(handled).toEqual([]);
  });

  it("refuses an oversized chunked body with 413", async () => {
    const big = Buffer.alloc(1024 * 1024 + 10, 0x61);
    const chunked = Buffer.concat([
      Buffer.from(`${big.length.toString(16)}\r\n`),
      big,
      Buffer.from("\r\n0\r\n\r\n"),
    ]);
    const r = await postChunked(chunked);
    expect(r.status).toBe(413);
    expect(handled).toEqual([]);
  });

  it("answers 408 when the body never finishes", async () => {
    const r = await rawPost(l.url, "/webhooks/github", {}, "{", { declaredLength: 100 });
    expect(r.status).toBe(408);
  });

  it("unknown platforms and paths are 404; other methods 405", async () => {
    expect((await rawPost(l.url, "/webhooks/nope", {}, "{}")).status).toBe(404);
    expect((await rawPost(l.url, "/webhooks/github/../linear", {}, "{}")).status).toBe(404);
    expect((await rawPost(l.url, "/hooks", {}, "{}")).status).toBe(404);
    expect((await rawPost(l.url, "/webhooks/github", {}, "{}", { method: "PUT" })).status).toBe(405);
  });

  it("logs refusals without bodies, signatures or headers", async () => {
    const body = ghComment(12, undefined, "SECRET-LOOKING-TEXT");
    await gh(body, hubSignature("wrong", body));
    const text = JSON.stringify(logs);
    expect(text).not.toContain("SECRET-LOOKING-TEXT");
    expect(text).not.toContain("sha256=");
  });

  function postChunked(bytes: Buffer) {
    return rawPost(l.url, "/webhooks/github", { "Transfer-Encoding": "chunked" }, bytes, {
      declaredLength: null,
    });
  }
});

describe("webhook listener: Linear", () => {
  const comment = (id: string, at = Date.now()) =>
    JSON.stringify({
      action: "create",
      type: "Comment",
      organizationId: "org-1",
      webhookTimestamp: at,
      data: { id, body: "/approve k3f9x2", issueId: "iss-1", user: { id: "u-1", name: "Ann" } },
    });
  const post = (body: string, sig = linearSignature(LIN_SECRET, body)) =>
    rawPost(l.url, "/webhooks/linear", { "linear-signature": sig }, body);

  it("accepts a genuine comment once; refuses the replay (409), forged (401) and stale (400)", async () => {
    const body = comment("c-1");
    expect((await post(body)).status).toBe(200);
    expect((await post(body)).status).toBe(409);
    expect((await post(comment("c-2"), linearSignature("wrong", comment("c-2")))).status).toBe(401);
    expect((await rawPost(l.url, "/webhooks/linear", {}, comment("c-3"))).status).toBe(401);
    expect((await post(comment("c-4", Date.now() - 6 * 60_000))).status).toBe(400);
    expect(handled).toHaveLength(1);
  });
});

describe("webhook listener: WhatsApp Cloud", () => {
  const message = (id: string, atSec = Math.floor(Date.now() / 1000)) =>
    JSON.stringify({
      object: "whatsapp_business_account",
      entry: [
        {
          id: "waba",
          changes: [
            {
              field: "messages",
              value: {
                metadata: { phone_number_id: "pn-1" },
                messages: [
                  { id, from: "15550001", timestamp: String(atSec), type: "text", text: { body: "hi" } },
                ],
              },
            },
          ],
        },
      ],
    });
  const post = (body: string, sig = hubSignature(WA_SECRET, body)) =>
    rawPost(l.url, "/webhooks/wacloud", { "x-hub-signature-256": sig }, body);

  it("answers the subscription challenge only for the verify token", async () => {
    const ok = await rawPost(
      l.url,
      "/webhooks/wacloud?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=12345",
      {},
      "",
      { method: "GET" },
    );
    expect(ok).toMatchObject({ status: 200, body: "12345" });
    const bad = await rawPost(
      l.url,
      "/webhooks/wacloud?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=12345",
      {},
      "",
      { method: "GET" },
    );
    expect(bad.status).toBe(401);
    const html = await rawPost(
      l.url,
      "/webhooks/wacloud?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=%3Cscript%3E",
      {},
      "",
      { method: "GET" },
    );
    expect(html.status).toBe(400);
  });

  it("accepts a genuine message once; refuses the replay (409), forged (401), day-old (400)", async () => {
    const body = message("wamid.1");
    expect((await post(body)).status).toBe(200);
    expect((await post(body)).status).toBe(409);
    expect((await post(message("wamid.2"), hubSignature("wrong", message("wamid.2")))).status).toBe(401);
    expect((await post(message("wamid.3", Math.floor(Date.now() / 1000) - 86_400))).status).toBe(400);
    expect(handled).toHaveLength(1);
  });
});
