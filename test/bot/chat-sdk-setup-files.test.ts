/**
 * The one-paste set-up files under bot/channels/chat-sdk/setup/ ask the platforms for exactly what
 * the bot reads and nothing more: the events subscribed are the events the verifiers accept, and the
 * webhook URL is the listener's path for that platform.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GCHAT_SCOPE } from "../../bot/channels/chat-sdk/gchat.js";
import { GITHUB_EVENTS, LINEAR_RESOURCE_TYPES } from "../../bot/webhooks/hmac-verifiers.js";

const DIR = join(import.meta.dirname, "..", "..", "bot", "channels", "chat-sdk", "setup");
const read = (f: string) => JSON.parse(readFileSync(join(DIR, f), "utf8")) as Record<string, unknown>;

describe("Chat SDK set-up files", () => {
  it("GitHub App manifest: exactly the events the bot reads, its webhook path, least permissions", () => {
    const m = read("github-app.json");
    expect([...(m.default_events as string[])].sort()).toEqual([...GITHUB_EVENTS].sort());
    expect((m.hook_attributes as { url: string }).url).toBe("https://WARDEN_PUBLIC_URL/webhooks/github");
    expect(m.default_permissions).toEqual({ issues: "write", pull_requests: "write", metadata: "read" });
    expect(m.public).toBe(false);
  });

  it("Linear webhook: exactly the resource types the bot reads, its webhook path", () => {
    const m = read("linear-webhook.json");
    expect(m.resourceTypes).toEqual([...LINEAR_RESOURCE_TYPES]);
    expect(m.url).toBe("https://WARDEN_PUBLIC_URL/webhooks/linear");
  });

  it("Teams app manifest: one bot (the app id), chats it works in, no commands, tabs, extensions or files", () => {
    const m = read("teams-manifest.json");
    expect(m.id).toBe("TEAMS_APP_ID");
    expect(m.bots).toEqual([
      {
        botId: "TEAMS_APP_ID",
        scopes: ["personal", "team", "groupChat"],
        supportsFiles: false,
        isNotificationOnly: false,
      },
    ]);
    for (const k of [
      "composeExtensions",
      "staticTabs",
      "configurableTabs",
      "webApplicationInfo",
      "authorization",
      "permissions",
    ])
      expect(m).not.toHaveProperty(k);
    expect(m.validDomains).toEqual([]);
  });

  it("Google Chat app: a Workspace add-on calling its webhook path, project-number audience, the bot scope only", () => {
    const m = read("gchat-app.json");
    expect(m.buildAsWorkspaceAddOn).toBe(true);
    expect(m.connectionSettings).toEqual({
      type: "HTTP endpoint URL",
      useOneEndpointForAllTriggers: true,
      httpEndpointUrl: "https://WARDEN_PUBLIC_URL/webhooks/gchat",
      authenticationAudience: "Project Number",
    });
    expect(m.serviceAccountScopes).toEqual([GCHAT_SCOPE]);
    expect(m.commands).toEqual([]);
    expect(m.linkPreviews).toEqual([]);
  });
});
