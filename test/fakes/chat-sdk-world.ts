/**
 * One Chat SDK platform on 127.0.0.1 for tests: its fake API (and key server for the JWT platforms),
 * Warden's webhook listener and the REAL channel (`createChatSdkChannels` over the real adapter),
 * wired the way `warden start` wires them. Shared by the per-platform tests and the contract
 * harnesses (test/bot/chat-sdk-contract-*.test.ts), so each set-up lives in one place.
 */
import type { Channel } from "../../bot/channel.js";
import { createChatSdkChannels } from "../../bot/channels/chat-sdk/chat-sdk-channel.js";
import { type ChatSdkSettings, chatSdkPlatforms } from "../../bot/channels/chat-sdk/platforms.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { type FakeGchat, startFakeGchat } from "./gchat-api.js";
import { type FakeGitHub, startFakeGitHub } from "./github-api.js";
import { type FakeLinear, startFakeLinear } from "./linear-api.js";
import { type PlatformKeys, startPlatformKeys } from "./platform-jwt.js";
import { type FakeTeams, startFakeTeams } from "./teams-api.js";
import { type FakeWaCloud, startFakeWaCloud } from "./wacloud-api.js";

/** Test secrets: never real, and tests check none of them reaches a log. */
export const GITHUB_SECRET = "gh-secret-for-tests";
export const LINEAR_SECRET = "linear-secret-for-tests";
export const WA_APP_SECRET = "meta-app-secret-tests";
export const WA_PNID = "1000001";
export const TEAMS_APP_ID = "00000000-aaaa-4bbb-8ccc-000000000001";
export const TEAMS_PASSWORD = "teams-app-password-for-tests";
export const GCHAT_PROJECT = "123456789012";
export const GCHAT_ENDPOINT = "https://warden.example.test/webhooks/gchat";

export interface ChatSdkRig<F> {
  readonly channel: Channel;
  readonly listener: WebhookListener;
  readonly fake: F;
  /** Everything the channel logged (event names and fields). */
  readonly logs: { event: string; fields: Record<string, unknown> }[];
  close(): Promise<void>;
}

async function rig<F>(
  settings: ChatSdkSettings,
  fake: F,
  closeFake: () => Promise<void>,
): Promise<ChatSdkRig<F>> {
  const logs: { event: string; fields: Record<string, unknown> }[] = [];
  const log = (event: string, fields: Record<string, unknown> = {}) => void logs.push({ event, fields });
  const listener = await startWebhookListener({ host: "127.0.0.1", port: 0, log });
  try {
    const [channel] = createChatSdkChannels({
      platforms: await chatSdkPlatforms(settings),
      listener,
      log,
    }) as [Channel];
    return {
      channel,
      listener,
      fake,
      logs,
      async close() {
        await listener.close();
        await closeFake();
      },
    };
  } catch (err) {
    await listener.close();
    await closeFake();
    throw err;
  }
}

export async function githubRig(): Promise<ChatSdkRig<FakeGitHub>> {
  const gh = await startFakeGitHub(GITHUB_SECRET);
  return rig({ github: { webhookSecret: GITHUB_SECRET, token: "ghp_test", apiUrl: gh.url } }, gh, gh.close);
}

export async function linearRig(): Promise<ChatSdkRig<FakeLinear>> {
  const fake = await startFakeLinear(LINEAR_SECRET);
  return rig(
    { linear: { apiKey: "lin_api_test", webhookSecret: LINEAR_SECRET, apiUrl: fake.url } },
    fake,
    fake.close,
  );
}

export async function wacloudRig(): Promise<ChatSdkRig<FakeWaCloud>> {
  const fake = await startFakeWaCloud({ appSecret: WA_APP_SECRET, phoneNumberId: WA_PNID });
  return rig(
    {
      wacloud: {
        accessToken: "EAAtest",
        appSecret: WA_APP_SECRET,
        phoneNumberId: WA_PNID,
        verifyToken: "vt",
        apiUrl: fake.url,
      },
    },
    fake,
    fake.close,
  );
}

export async function teamsRig(): Promise<ChatSdkRig<FakeTeams> & { keys: PlatformKeys }> {
  const keys = await startPlatformKeys();
  const fake = await startFakeTeams({ appId: TEAMS_APP_ID, keys });
  const r = await rig(
    {
      teams: {
        appId: TEAMS_APP_ID,
        appPassword: TEAMS_PASSWORD,
        tenantId: "tenant-1",
        apiUrl: fake.url,
        tokenUrl: fake.tokenUrl,
        openIdMetadataUrl: keys.openIdMetadataUrl,
      },
    },
    fake,
    async () => {
      await fake.close();
      await keys.close();
    },
  );
  return { ...r, keys };
}

export async function gchatRig(): Promise<ChatSdkRig<FakeGchat> & { keys: PlatformKeys }> {
  const keys = await startPlatformKeys();
  const fake = await startFakeGchat({ projectNumber: GCHAT_PROJECT, keys });
  const r = await rig(
    {
      gchat: {
        credentials: fake.credentials,
        projectNumber: GCHAT_PROJECT,
        endpointUrl: GCHAT_ENDPOINT,
        apiUrl: fake.url,
        certsUrl: keys.certsUrl,
      },
    },
    fake,
    async () => {
      await fake.close();
      await keys.close();
    },
  );
  return { ...r, keys };
}

/** Polls `f` every 20 ms until it returns something other than undefined. */
export async function until<T>(
  what: string,
  f: () => Promise<T | undefined> | T | undefined,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Lets a few more replies land after the first one (a wrong second answer must be seen). */
export const quietPause = (ms = 150): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A `/verb code` prompt on a markdown card (GitHub, Linear); `label` is the grant's. */
export interface CodePrompt {
  readonly verb: "approve" | "deny" | "grant";
  readonly code: string;
  readonly label?: string;
}

/** The prompts a markdown card shows, in order (the card's own first, then each batch item's). */
export function promptsOf(md: string): CodePrompt[] {
  const out: CodePrompt[] = [];
  for (const m of md.matchAll(/`\/(approve|deny|grant) ([a-z0-9]{6})`(?: for `([^`]*)`)?/g))
    out.push({ verb: m[1] as CodePrompt["verb"], code: m[2] as string, ...(m[3] ? { label: m[3] } : {}) });
  return out;
}

/** The prompts as the button labels they stand for (what a person can say, and its meaning). */
export const promptLabels = (md: string): string[] =>
  promptsOf(md).map(
    (p) => p.label ?? (p.verb === "approve" ? "Approve" : p.verb === "deny" ? "Deny" : "Grant"),
  );

/**
 * The code a person would type for the button `data`, having read one version of the card (newest
 * first): a batch's "all" data names how many items it covers, so it is the card-level code of the
 * version that showed exactly that many; anything else, the first prompt offering the verb.
 */
export function codeFor(versions: readonly string[], data: string): string | undefined {
  const verb = data.split(":").pop();
  const batch = /^b:[^:]+:(\d+):/.exec(data);
  for (const md of [...versions].reverse()) {
    const prompts = promptsOf(md);
    if (batch) {
      if (!new RegExp(`wants to make ${batch[1]} requests`).test(md)) continue;
      const all = prompts[0]?.code;
      if (all && prompts.some((x) => x.code === all && x.verb === verb)) return all;
      continue;
    }
    const p = prompts.find((x) => x.verb === verb);
    if (p) return p.code;
  }
  return undefined;
}

/** A well-formed code no card ever carried (a reply to a message that was no card). */
export const UNISSUED_CODE = "zzzzzz";

/**
 * A markdown card (GitHub, Linear) as a person reads it: fences gone, and the body's `│ ` gutter (a
 * monospace marker for the request body) read as what it stands for.
 */
export const readCodeCard = (md: string): string =>
  md.replace(/(`{3,})text\n([\s\S]*?)\n\1/g, "$2").replace(/^│ /gm, "");

const LOOKALIKES: Readonly<Record<string, string>> = {
  "∗": "*",
  "＿": "_",
  "∼": "~",
  ˋ: "`",
  "‹": "<",
  "›": ">",
  "＆": "&",
  "［": "[",
  "］": "]",
};

/**
 * A button card's text as a person reads it (Teams, Google Chat, WhatsApp Cloud): the same-length
 * lookalikes that keep markup from rendering read as what they stand for, the body gutter as nothing.
 */
export const readButtonCard = (s: string): string =>
  s.replace(/[∗＿∼ˋ‹›＆［］]/g, (c) => LOOKALIKES[c] ?? c).replace(/^│ /gm, "");
