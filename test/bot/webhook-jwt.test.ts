/**
 * Teams and Google Chat webhook tokens through the shared listener, against keys served from
 * 127.0.0.1: a token signed by an unpublished key, for another app, from another issuer, with
 * `alg: none`, expired, or bound to another connector is refused and never reaches a handler; a body
 * is never read when the token is bad; a replayed activity is 409.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { googleChatVerifier, teamsVerifier } from "../../bot/webhooks/jwt-verifiers.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { type PlatformKeys, startPlatformKeys } from "../fakes/platform-jwt.js";
import { rawPost } from "../fakes/webhook-client.js";

const APP = "00000000-aaaa-4bbb-8ccc-000000000001";
const PROJECT = "123456789012";
let keys: PlatformKeys;
let l: WebhookListener;
let handled: string[];

beforeAll(async () => {
  keys = await startPlatformKeys();
});
afterAll(() => keys.close());
beforeEach(async () => {
  handled = [];
  l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined, bodyTimeoutMs: 500 });
  for (const verifier of [
    teamsVerifier({ appId: APP, openIdMetadataUrl: keys.openIdMetadataUrl }),
    googleChatVerifier({ projectNumber: PROJECT, certsUrl: keys.certsUrl }),
  ])
    l.route({
      verifier,
      handle: async (d) => {
        handled.push(d.body.toString());
        return { status: 200, body: "{}" };
      },
    });
});
afterEach(() => l.close());

const now = () => Math.floor(Date.now() / 1000);
const SERVICE = "http://127.0.0.1:9/teams/";
const teamsClaims = (over: Record<string, unknown> = {}) => ({
  iss: "https://api.botframework.com",
  aud: APP,
  serviceurl: SERVICE,
  iat: now() - 10,
  nbf: now() - 10,
  exp: now() + 3600,
  ...over,
});
const activity = (id: string, serviceUrl = SERVICE) =>
  JSON.stringify({
    type: "message",
    id,
    serviceUrl,
    conversation: { id: "conv-1" },
    from: { id: "29:1", aadObjectId: "aad-1" },
    text: "hi",
  });
const teams = (token: string | undefined, body: string, o = {}) =>
  rawPost(l.url, "/webhooks/teams", token ? { authorization: `Bearer ${token}` } : {}, body, o);

describe("Teams webhook tokens", () => {
  it("a genuine activity is handled once; its replay under the same token is 409", async () => {
    const t = keys.sign(teamsClaims());
    expect((await teams(t, activity("a1"))).status).toBe(200);
    expect((await teams(t, activity("a2"))).status).toBe(200);
    expect((await teams(t, activity("a1"))).status).toBe(409);
    expect(handled).toHaveLength(2);
  });

  it("refuses: no token, an unpublished key, another app, another issuer, alg none, HS256", async () => {
    const body = activity("b1");
    expect((await teams(undefined, body)).status).toBe(401);
    expect((await teams(keys.sign(teamsClaims(), { foreign: true }), body)).status).toBe(401);
    expect((await teams(keys.sign(teamsClaims({ aud: "another-app" })), body)).status).toBe(401);
    expect((await teams(keys.sign(teamsClaims({ iss: "https://evil.test" })), body)).status).toBe(401);
    const [h, p] = keys.sign(teamsClaims()).split(".");
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${p}.`;
    expect((await teams(none, body)).status).toBe(401);
    expect((await teams(keys.sign(teamsClaims(), { alg: "HS256" }), body)).status).toBe(401);
    expect(h).toBeTruthy();
    expect(handled).toEqual([]);
  });

  it("refuses a token expired over 5 minutes ago with 400", async () => {
    const t = keys.sign(teamsClaims({ iat: now() - 7200, nbf: now() - 7200, exp: now() - 400 }));
    expect((await teams(t, activity("c1"))).status).toBe(400);
    expect(handled).toEqual([]);
  });

  it("refuses a body naming another connector than the token vouches for", async () => {
    const t = keys.sign(teamsClaims());
    expect((await teams(t, activity("d1", "http://127.0.0.1:10/evil/"))).status).toBe(401);
    expect(handled).toEqual([]);
  });

  it("refuses a bad token before reading the body (the body is never sent)", async () => {
    const r = await teams(keys.sign(teamsClaims(), { foreign: true }), "", {
      declaredLength: 100_000,
      writeBody: false,
    });
    expect(r.status).toBe(401);
  });
});

const gchatClaims = (over: Record<string, unknown> = {}) => ({
  iss: "chat@system.gserviceaccount.com",
  aud: PROJECT,
  iat: now() - 5,
  exp: now() + 3600,
  ...over,
});
const gchatEvent = (name: string) =>
  JSON.stringify({
    commonEventObject: { hostApp: "CHAT" },
    chat: {
      user: { name: "users/111" },
      messagePayload: { space: { name: "spaces/S1", type: "DM" }, message: { name, text: "hi" } },
    },
  });
const gchat = (token: string | undefined, body: string) =>
  rawPost(l.url, "/webhooks/gchat", token ? { authorization: `Bearer ${token}` } : {}, body);

describe("Google Chat webhook tokens", () => {
  it("a genuine event is handled once: the same token and bytes again are 409", async () => {
    const t = keys.sign(gchatClaims());
    expect((await gchat(t, gchatEvent("spaces/S1/messages/m1"))).status).toBe(200);
    expect((await gchat(t, gchatEvent("spaces/S1/messages/m1"))).status).toBe(409);
    // Google's tokens carry no nonce: a second genuine event signed in the same second has the same
    // token (RS256 is deterministic) and must still count.
    expect((await gchat(t, gchatEvent("spaces/S1/messages/m2"))).status).toBe(200);
    // The message it posts cannot come twice, whatever the token.
    expect(
      (await gchat(keys.sign(gchatClaims({ iat: now() - 1 })), gchatEvent("spaces/S1/messages/m2"))).status,
    ).toBe(409);
    expect(handled).toHaveLength(2); // m1 and m2, each once
  });

  it("refuses: no token, an unpublished key, an unknown kid, another project, another issuer", async () => {
    const body = gchatEvent("spaces/S1/messages/m3");
    expect((await gchat(undefined, body)).status).toBe(401);
    expect((await gchat(keys.sign(gchatClaims(), { foreign: true }), body)).status).toBe(401);
    expect((await gchat(keys.sign(gchatClaims(), { kid: "other" }), body)).status).toBe(401);
    expect((await gchat(keys.sign(gchatClaims({ aud: "999" })), body)).status).toBe(401);
    expect((await gchat(keys.sign(gchatClaims({ iss: "someone@example.test" })), body)).status).toBe(401);
    expect(handled).toEqual([]);
  });

  it("refuses an expired token with 400", async () => {
    const t = keys.sign(gchatClaims({ iat: now() - 7200, exp: now() - 3600 }));
    expect((await gchat(t, gchatEvent("spaces/S1/messages/m4"))).status).toBe(400);
    expect(handled).toEqual([]);
  });
});
