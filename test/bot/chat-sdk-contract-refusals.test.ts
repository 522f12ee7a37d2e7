/**
 * For each of the five Chat SDK platforms, through Warden's listener, the REAL adapter and the real
 * channel: an unsigned, a forged, a stale (signed time over 5 minutes old) and a replayed
 * (byte-identical) delivery of a person's message are refused (401, 401, 400, 409) and never reach
 * the channel's handler, which is the bot's router; the genuine one does, once. No secret reaches
 * the logs. (webhook-listener.test.ts and webhook-jwt.test.ts check each verifier's finer cases
 * against a stub handler; this proves the same refusals hold in front of the real channel.)
 */
import { describe, expect, it } from "vitest";
import type { InboundEvent } from "../../bot/channel.js";
import {
  type ChatSdkRig,
  GCHAT_PROJECT,
  GITHUB_SECRET,
  githubRig,
  gchatRig,
  LINEAR_SECRET,
  linearRig,
  TEAMS_APP_ID,
  TEAMS_PASSWORD,
  teamsRig,
  until,
  WA_APP_SECRET,
  WA_PNID,
  wacloudRig,
} from "../fakes/chat-sdk-world.js";
import type { PlatformKeys } from "../fakes/platform-jwt.js";
import { hubSignature, linearSignature, rawPost } from "../fakes/webhook-client.js";

type Kind = "genuine" | "unsigned" | "forged" | "stale";
interface Delivery {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}
/** A rig as the cases need it: the listener's URL, and the JWT platforms' keys and fake URL. */
type AnyRig = ChatSdkRig<{ url: string }> & { keys?: PlatformKeys };

const SIX_MINUTES = 6 * 60_000;
/** One header, or none (an unsigned delivery). */
const header = (name: string, value: string | undefined): Record<string, string> =>
  value === undefined ? {} : { [name]: value };
let seq = 0;
const when = (kind: Kind) => Date.now() - (kind === "stale" ? SIX_MINUTES : 0);
const sec = (ms: number) => Math.floor(ms / 1000);

/** Signed like the platform signs (or not, or with a key nobody publishes), dated by `kind`. */
const CASES: Record<string, { rig: () => Promise<AnyRig>; make: (r: AnyRig, kind: Kind) => Delivery }> = {
  github: {
    rig: githubRig,
    make: (_r, kind) => {
      const ann = { id: 701, login: "ann", type: "User" };
      const body = JSON.stringify({
        action: "created",
        issue: { number: 7, title: "Agent demo", user: ann },
        comment: {
          id: 90_000 + ++seq,
          body: "hello",
          user: ann,
          created_at: new Date(when(kind)).toISOString(),
        },
        repository: { id: 1, name: "app", full_name: "acme/app", owner: { login: "acme" } },
        sender: ann,
      });
      const sig = header(
        "x-hub-signature-256",
        kind === "unsigned" ? undefined : hubSignature(kind === "forged" ? "guess" : GITHUB_SECRET, body),
      );
      return { path: "/webhooks/github", headers: { "x-github-event": "issue_comment", ...sig }, body };
    },
  },
  linear: {
    rig: linearRig,
    make: (_r, kind) => {
      const at = when(kind);
      const id = `c-${++seq}`;
      const body = JSON.stringify({
        action: "create",
        type: "Comment",
        organizationId: "org-1",
        webhookTimestamp: at,
        webhookId: "hook-1",
        createdAt: new Date(at).toISOString(),
        data: {
          id,
          body: "hello",
          issueId: "iss-1",
          createdAt: new Date(at).toISOString(),
          updatedAt: new Date(at).toISOString(),
          userId: "u-701",
          user: { id: "u-701", name: "ann", email: "ann@example.test", url: "https://linear.invalid/u" },
        },
        url: `https://linear.invalid/issue/iss-1#comment-${id}`,
      });
      const sig = header(
        "linear-signature",
        kind === "unsigned" ? undefined : linearSignature(kind === "forged" ? "guess" : LINEAR_SECRET, body),
      );
      return { path: "/webhooks/linear", headers: { "content-type": "application/json", ...sig }, body };
    },
  },
  wacloud: {
    rig: wacloudRig,
    make: (_r, kind) => {
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
                  metadata: { display_phone_number: "15550000000", phone_number_id: WA_PNID },
                  contacts: [{ profile: { name: "Ann" }, wa_id: "15550000701" }],
                  messages: [
                    {
                      from: "15550000701",
                      id: `wamid.r${++seq}`,
                      timestamp: String(sec(when(kind))),
                      type: "text",
                      text: { body: "hello" },
                    },
                  ],
                },
              },
            ],
          },
        ],
      });
      const sig = header(
        "x-hub-signature-256",
        kind === "unsigned" ? undefined : hubSignature(kind === "forged" ? "guess" : WA_APP_SECRET, body),
      );
      return { path: "/webhooks/wacloud", headers: { "content-type": "application/json", ...sig }, body };
    },
  },
  teams: {
    rig: teamsRig as () => Promise<AnyRig>,
    make: (r, kind) => {
      const at = sec(when(kind));
      const body = JSON.stringify({
        type: "message",
        id: `act-${++seq}`,
        timestamp: new Date().toISOString(),
        channelId: "msteams",
        serviceUrl: r.fake.url,
        recipient: { id: `28:${TEAMS_APP_ID}`, name: "warden" },
        from: { id: "29:ann", name: "Ann", aadObjectId: "11111111-1111-4111-8111-111111111111" },
        conversation: { id: "a:dm-ann", conversationType: "personal", tenantId: "tenant-1" },
        channelData: { tenant: { id: "tenant-1" } },
        text: "hello",
      });
      const claims = {
        iss: "https://api.botframework.com",
        aud: TEAMS_APP_ID,
        serviceurl: r.fake.url,
        nbf: at - 65,
        iat: at - 65,
        exp: at - 60 + (kind === "stale" ? 0 : 3600),
      };
      return jwtDelivery(r, "/webhooks/teams", kind, claims, body);
    },
  },
  gchat: {
    rig: gchatRig as () => Promise<AnyRig>,
    make: (r, kind) => {
      const at = sec(when(kind));
      const n = ++seq;
      const space = { name: "spaces/dm-701", type: "DM", spaceType: "DIRECT_MESSAGE" };
      const ann = { name: "users/701", displayName: "Ann", type: "HUMAN" };
      const body = JSON.stringify({
        commonEventObject: { hostApp: "CHAT" },
        chat: {
          user: ann,
          eventTime: new Date().toISOString(),
          messagePayload: {
            space,
            message: {
              name: `spaces/dm-701/messages/r${n}`,
              sender: ann,
              text: "hello",
              argumentText: "hello",
              thread: { name: `spaces/dm-701/threads/r${n}` },
              space,
              createTime: new Date().toISOString(),
            },
          },
        },
      });
      const claims = {
        iss: "chat@system.gserviceaccount.com",
        aud: GCHAT_PROJECT,
        iat: at - 65,
        exp: at - 60 + (kind === "stale" ? 0 : 3600),
        n,
      };
      return jwtDelivery(r, "/webhooks/gchat", kind, claims, body);
    },
  },
};

function jwtDelivery(
  r: AnyRig,
  path: string,
  kind: Kind,
  claims: Record<string, unknown>,
  body: string,
): Delivery {
  const keys = r.keys as PlatformKeys;
  const token = keys.sign(claims, { foreign: kind === "forged" });
  const auth = header("authorization", kind === "unsigned" ? undefined : `Bearer ${token}`);
  return { path, headers: { "content-type": "application/json", ...auth }, body };
}

const SECRETS = [
  GITHUB_SECRET,
  LINEAR_SECRET,
  WA_APP_SECRET,
  TEAMS_PASSWORD,
  "ghp_test",
  "lin_api_test",
  "EAAtest",
];

describe("Chat SDK webhooks: refused deliveries never reach the router", () => {
  for (const [platform, c] of Object.entries(CASES))
    it(`${platform}: unsigned 401, forged 401, stale 400, replayed 409; only the genuine one is handled, once`, async () => {
      const r = await c.rig();
      const events: InboundEvent[] = [];
      await r.channel.start(async (e) => void events.push(e));
      const post = (d: Delivery) => rawPost(r.listener.url, d.path, d.headers, d.body);
      try {
        const genuine = c.make(r, "genuine");
        expect((await post(genuine)).status).toBe(200);
        await until("the genuine message", () => (events.length === 1 ? true : undefined));
        expect((await post(genuine)).status).toBe(409);
        expect((await post(c.make(r, "unsigned"))).status).toBe(401);
        expect((await post(c.make(r, "forged"))).status).toBe(401);
        expect((await post(c.make(r, "stale"))).status).toBe(400);
        await new Promise((res) => setTimeout(res, 300));
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ kind: "message", text: "hello" });
        const logged = JSON.stringify(r.logs);
        for (const s of SECRETS) expect(logged).not.toContain(s);
        expect(logged).not.toContain(genuine.headers.authorization?.slice(7) ?? "no token");
      } finally {
        await r.channel.stop();
        await r.close();
      }
    });
});
