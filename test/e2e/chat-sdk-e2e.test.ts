/**
 * Teams, Google Chat and GitHub end to end, with no fakes inside Warden: one `warden start`
 * (runStart) with the real gateway, bot, Chat SDK adapters behind the shared webhook listener, the
 * Docker runtime and real demo agent containers; outside it, our fakes of the three platforms on
 * 127.0.0.1, each signing its webhooks as the platform does (Teams and Google Chat RS256 JWTs from a
 * local key server, GitHub's HMAC).
 *
 * A: the owner claims Warden in a Teams 1:1 chat and links Google Chat; `@warden /agent start demo`
 * in a Teams channel thread; "send the report to Alice" there; the held request's card reaches the
 * owner's Google Chat DM; a signed click on Approve there releases it; the Teams card loses its
 * buttons and the agent's answer arrives in the Teams thread; the demo service (the upstream)
 * received exactly what the card showed, with the real key the agent never had.
 * B: from Google Chat the owner gives GitHub users roles with `/role`; an admin starts an agent in
 * a GitHub issue, which becomes its thread; a member's and a stranger's `/approve <code>` comments are
 * refused; the admin's approves.
 * No platform secret reaches Warden's log; the demo key reaches no platform.
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { readMarkdownCard } from "../../bot/channels/markdown-card.js";
import { dockerUnavailable } from "../agents/agent-world.js";
import { startTestWarden } from "../bot/test-warden.js";
import { type FakeGchat, type GchatSent, startFakeGchat } from "../fakes/gchat-api.js";
import { GITHUB_BOT, startFakeGitHub } from "../fakes/github-api.js";
import { startPlatformKeys } from "../fakes/platform-jwt.js";
import { pollUntil } from "../fakes/poll-until.js";
import { startFakeTeams } from "../fakes/teams-api.js";

const skip = dockerUnavailable();
const APP_ID = "00000000-aaaa-4bbb-8ccc-0000000000e2";
const APP_PASSWORD = "teams-e2e-app-password";
const TENANT = "tenant-e2e";
const GH_SECRET = "github-e2e-webhook-secret";
const PROJECT = "424242424242";
const OLIVE_TEAMS = { id: "29:olive", name: "Olive", aadObjectId: "0e0e0e0e-0000-4000-8000-00000000000e" };
const OLIVE_DM = { id: "a:olive-dm", conversationType: "personal", tenantId: TENANT };
const TEAM_THREAD = {
  id: "19:ops@thread.tacv2;messageid=1700000000001",
  conversationType: "channel",
  tenantId: TENANT,
};
const OLIVE_G = { name: "users/500", displayName: "Olive" };
const OLIVE_G_DM = { name: "spaces/dm-500", type: "DM" as const };
const GUS = { id: 801, login: "gus" }; // admin on GitHub, given by the owner with /role
const MEL = { id: 809, login: "mel" }; // member: may talk to agents, may not approve
const EVE = { id: 666, login: "eve" }; // stranger
const ISSUE = "github:acme/app:issue:7";

type GButton = { text: string; onClick: { action?: { parameters: { key: string; value: string }[] } } };
type GCard = { card: { sections: { widgets: Record<string, unknown>[] }[] } };
const gcardOf = (s: GchatSent): GCard | undefined =>
  ((s.edits.at(-1) ?? s.body).cardsV2 as GCard[] | undefined)?.[0];
const gbuttons = (c: GCard | undefined): GButton[] =>
  (c?.card.sections ?? []).flatMap((s) =>
    s.widgets.flatMap((x) => (x.buttonList as { buttons: GButton[] } | undefined)?.buttons ?? []),
  );
const gtext = (c: GCard | undefined): string =>
  (c?.card.sections ?? [])
    .flatMap((s) => s.widgets.map((x) => (x.textParagraph as { text?: string } | undefined)?.text ?? ""))
    .join("\n");
const gparams = (c: GCard | undefined, label: string): Record<string, string> =>
  Object.fromEntries(
    (gbuttons(c).find((b) => b.text === label)?.onClick.action?.parameters ?? []).map((p) => [
      p.key,
      p.value,
    ]),
  );
type Adaptive = { body?: { text?: string }[]; actions?: { type: string; title: string }[] };
const adaptiveOf = (a: Record<string, unknown>): Adaptive | undefined =>
  (a.attachments as { contentType: string; content: Adaptive }[] | undefined)?.find(
    (x) => x.contentType === "application/vnd.microsoft.card.adaptive",
  )?.content;

describe.skipIf(skip)(`Teams → Google Chat → GitHub end to end${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  });

  it("an agent started in Teams is approved from Google Chat; one started in a GitHub issue by a code comment", {
    timeout: 420_000,
  }, async () => {
    const keys = await startPlatformKeys();
    const teams = await startFakeTeams({ appId: APP_ID, keys });
    const gchat: FakeGchat = await startFakeGchat({ projectNumber: PROJECT, keys });
    const gh = await startFakeGitHub(GH_SECRET);
    cleanup.push(
      () => keys.close(),
      () => teams.close(),
      () => gchat.close(),
      () => gh.close(),
    );
    const running = await startTestWarden("chatsdk-e2e", {
      chatSdk: {
        webhooks: { host: "127.0.0.1", port: 0 },
        teams: {
          appId: APP_ID,
          appPassword: APP_PASSWORD,
          tenantId: TENANT,
          apiUrl: teams.url,
          tokenUrl: teams.tokenUrl,
          openIdMetadataUrl: keys.openIdMetadataUrl,
        },
        gchat: {
          credentials: gchat.credentials,
          projectNumber: PROJECT,
          endpointUrl: "https://warden.example.test/webhooks/gchat",
          apiUrl: gchat.url,
          certsUrl: keys.certsUrl,
        },
        github: { webhookSecret: GH_SECRET, token: "ghp_e2e_token_value", apiUrl: gh.url },
      },
    });
    cleanup.push(() => running.close());
    const line = await pollUntil("the webhook line", () => running.said.find((l) => / webhooks at /.test(l)));
    const hooks = /(http:\/\/127\.0\.0\.1:\d+)\/webhooks\//.exec(line)?.[1] ?? "";

    const teamsSay = (from: typeof OLIVE_TEAMS, conversation: typeof OLIVE_DM, text: string) =>
      teams.deliver(hooks, {
        from,
        conversation,
        channelData: { tenant: { id: TENANT } },
        ...(conversation.conversationType === "personal"
          ? { text }
          : {
              // In a channel Teams delivers only messages that @mention the bot.
              text: `<at>warden</at> ${text}`,
              entities: [
                {
                  type: "mention",
                  text: "<at>warden</at>",
                  mentioned: { id: `28:${APP_ID}`, name: "warden" },
                },
              ],
            }),
      });
    // Our verifier takes a Google token once, and RS256 is deterministic: two deliveries signed in the
    // same second with the same claims would be one token. A jti keeps each delivery's its own.
    const gchatDeliver = (event: Record<string, unknown>) =>
      gchat.deliver(hooks, event, { claims: { jti: randomUUID() } });
    const teamsTexts = (conv: string) =>
      teams.sent
        .filter((s) => s.conversationId === conv && typeof s.activity.text === "string")
        .map((s) => readMarkdownCard(String(s.activity.text)));
    const teamsText = (conv: string, re: RegExp, ms = 30_000) =>
      pollUntil(`Teams ${conv}: ${re}`, () => teamsTexts(conv).find((t) => re.test(t)), ms);
    const gchatTexts = () =>
      gchat.sent
        .filter((s) => s.space === OLIVE_G_DM.name && typeof s.body.text === "string")
        .map((s) => readMarkdownCard(String(s.body.text)));
    // On a timeout, say what did arrive: the reason is usually in the bot's answer.
    const gchatText = (re: RegExp, ms = 30_000) =>
      pollUntil(`Google Chat DM: ${re}`, () => gchatTexts().find((t) => re.test(t)), ms).catch(
        (err: Error) => {
          throw new Error(`${err.message}; the DM has: ${JSON.stringify(gchatTexts().slice(-3))}`);
        },
      );

    // The owner claims Warden in a Teams 1:1 chat and links her Google Chat account.
    expect((await teamsSay(OLIVE_TEAMS, OLIVE_DM, `/start ${running.claimToken}`)).status).toBe(200);
    await teamsText(OLIVE_DM.id, /you are owner/);
    await teamsSay(OLIVE_TEAMS, OLIVE_DM, "/link");
    const code = /\/link (\S+)/.exec(await teamsText(OLIVE_DM.id, /\/link \S+/))?.[1] ?? "";
    expect((await gchatDeliver(gchat.message(OLIVE_G, OLIVE_G_DM, `/link ${code}`))).status).toBe(200);
    await gchatText(/^Linked\./);

    // A: `/agent start demo` in a Teams channel thread, then the request, both @mentioning the bot.
    await teamsSay(OLIVE_TEAMS, TEAM_THREAD, "/agent start demo");
    await teamsText(TEAM_THREAD.id, /Started demo/, 180_000);
    await teamsSay(OLIVE_TEAMS, TEAM_THREAD, "send the report to Alice");

    // The card reaches the owner's Google Chat DM (linked last, so preferred) and the Teams thread.
    const dmCard = await pollUntil(
      "the card in the owner's Google Chat DM",
      () => gchat.sent.find((s) => s.space === OLIVE_G_DM.name && gbuttons(gcardOf(s)).length > 0),
      120_000,
    );
    const teamsCard = await pollUntil(
      "the card in the Teams thread",
      () =>
        teams.sent.find(
          (s) => s.conversationId === TEAM_THREAD.id && adaptiveOf(s.activity)?.actions?.length,
        ),
      30_000,
    );
    const shown = gtext(gcardOf(dmCard));
    expect(shown).toContain("send the report to Alice"); // the agent's stated reason
    expect(shown).toMatch(/POST/);
    expect(shown).toContain("demo.warden.local/send");
    expect(running.demo.sent).toEqual([]); // held: nothing reached the upstream yet

    // A signed click on Approve in the DM.
    const click = gchat.click(OLIVE_G, dmCard, gparams(gcardOf(dmCard), "Approve"));
    expect((await gchatDeliver(click)).status).toBe(200);

    // The Teams card loses its buttons; the agent's answer arrives in the Teams thread.
    await pollUntil(
      "the Teams card updated",
      () =>
        teamsCard.edits.length > 0 &&
        !adaptiveOf(teamsCard.edits.at(-1) ?? {})?.actions?.some((a) => a.type === "Action.Submit")
          ? true
          : undefined,
      30_000,
    );
    expect(JSON.stringify(adaptiveOf(teamsCard.edits.at(-1) ?? {}))).toMatch(/Approved by/);
    await teamsText(TEAM_THREAD.id, /Sending "Report" to alice@example\.com: done/, 60_000);

    // The upstream got exactly the request the card showed, authorised with the real key (the demo
    // service answers 401 to anything else, and records only what it accepted).
    expect(running.demo.sent).toHaveLength(1);
    const mail = running.demo.sent[0]!;
    expect(mail).toMatchObject({ to: "alice@example.com", subject: "Report" });
    for (const value of [mail.to, mail.subject, JSON.stringify(mail.body).slice(1, -1)])
      expect(shown).toContain(value);

    // B: the owner gives GitHub users roles from her Google Chat DM.
    await gchatDeliver(gchat.message(OLIVE_G, OLIVE_G_DM, `/role github:${GUS.id} admin`));
    await gchatText(/github:801 is now admin/);
    await gchatDeliver(gchat.message(OLIVE_G, OLIVE_G_DM, `/role github:${MEL.id} member`));
    await gchatText(/github:809 is now member/);

    // Gus starts an agent in the issue: the issue is its thread, no @mention needed there.
    const botSaid = (re: RegExp) =>
      gh.commentsIn(ISSUE).find((c) => c.user.id === GITHUB_BOT.id && re.test(readMarkdownCard(c.body)));
    await gh.comment(hooks, { user: GUS, text: "/agent start triage" });
    await pollUntil("Started triage", () => botSaid(/Started triage/), 180_000);
    await gh.comment(hooks, { user: GUS, text: "send the report to Alice" });
    const ghCard = await pollUntil("the card comment", () => botSaid(/\/approve [a-z0-9]{6}/), 120_000);
    const approveCode = /`\/approve ([a-z0-9]{6})`/.exec(ghCard.body)?.[1] ?? "";
    expect(approveCode).not.toBe("");

    // A member's and a stranger's code comments are refused; nothing is released.
    for (const who of [MEL, EVE]) {
      expect((await gh.comment(hooks, { user: who, text: `/approve ${approveCode}` })).status).toBe(200);
    }
    await pollUntil("two refusals", () => {
      const n = gh
        .commentsIn(ISSUE)
        .filter((c) => /You are not an approver for this request/.test(readMarkdownCard(c.body))).length;
      return n === 2 ? true : undefined;
    });
    expect(running.demo.sent).toHaveLength(1);

    // Gus's code comment approves: the card comment loses its prompt; the agent answers in the issue.
    await gh.comment(hooks, { user: GUS, text: `/approve ${approveCode}` });
    await pollUntil(
      "card comment updated",
      () => (ghCard.body.includes("/approve ") ? undefined : true),
      30_000,
    );
    await pollUntil(
      "the triage agent's answer",
      () => botSaid(/Sending "Report" to alice@example\.com: done/),
      60_000,
    );
    expect(running.demo.sent).toHaveLength(2);
    const decided = (await running.gateway.approvals.list()).filter((a) => a.agent === "triage");
    expect(decided.map((a) => [a.state, a.approvals])).toEqual([["used", [`github:${GUS.id}`]]]);

    // No platform secret in Warden's log; the demo key on no platform.
    const logs = running.logs.join("\n");
    for (const secret of [APP_PASSWORD, GH_SECRET, "ghp_e2e_token_value", "ya29."])
      expect(logs).not.toContain(secret);
    const key = (JSON.parse(gchat.credentials) as { private_key: string }).private_key.split("\n")[1] ?? "-";
    expect(logs).not.toContain(key);
    const everything = JSON.stringify([teams.sent, gchat.sent, gh.comments]);
    expect(everything).not.toMatch(/DEMO_API_KEY=|[0-9a-f]{32}/);
  });
});
