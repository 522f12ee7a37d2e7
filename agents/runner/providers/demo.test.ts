import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Tools } from "../brain.js";
import { createHttpTool } from "../http-tool.js";
import { parseProxyUrl } from "../proxy-request.js";
import { createDemoBrain, parseDemoRequest } from "./demo.js";

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const seen: Seen[] = [];
const asked: string[] = [];
/** What the fake gateway does with POST /send: let it through, or refuse with a code. */
let sendOutcome: "allow" | "approval_denied" | "approval_expired" = "allow";
let server: http.Server;
let tools: Tools;

function refuse(res: http.ServerResponse, code: string, rule: string) {
  res.writeHead(403, { "content-type": "application/json", "x-warden-error": code });
  res.end(JSON.stringify({ error: { code, message: code, policy: "demo", rule } }));
}

/** A fake proxy that plays gateway (applying the demo policy) and demo service in one. */
function gatewayAndDemo(s: Seen, res: http.ServerResponse) {
  const url = new URL(s.url);
  if (url.host !== "demo.warden.local") return refuse(res, "host_not_allowed", "");
  if (s.method === "DELETE") return refuse(res, "policy_denied", "no-deletes");
  if (s.method === "GET" && url.pathname === "/inbox") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(
      JSON.stringify({
        messages: [
          { id: 1, from: "carol@example.com", subject: "Q3 numbers" },
          { id: 2, from: "dan@example.com", subject: "Lunch?" },
        ],
      }),
    );
  }
  if (s.method === "GET" && url.pathname === "/calendar/today") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ events: [{ start: "10:00", title: "Standup" }] }));
  }
  if (s.method === "POST" && url.pathname === "/send") {
    if (sendOutcome !== "allow") return refuse(res, sendOutcome, "send");
    res.writeHead(200, { "content-type": "application/json" });
    return res.end('{"ok":true}');
  }
  res.writeHead(404).end();
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const s = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(parts).toString(),
      };
      seen.push(s);
      gatewayAndDemo(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const proxy = parseProxyUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  tools = {
    http: createHttpTool({ proxy, caPath: "/nonexistent/ca.pem" }),
    shell: async () => ({ exitCode: 0, stdout: "", stderr: "", timedOut: false, truncated: false }),
    readFile: async () => "",
    writeFile: async () => {},
    ask: async (q) => {
      asked.push(q);
      return "Quarterly";
    },
    status: async () => {},
  };
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  seen.length = 0;
  sendOutcome = "allow";
});

const msg = (text: string) => ({ id: "m", text, from: "web:owner", at: "2025-01-01T00:00:00Z" });

describe("createDemoBrain()", () => {
  it("labels itself as scripted in its first reply only", async () => {
    const brain = createDemoBrain();
    expect(await brain.handle(msg("hello"), tools)).toMatch(/^\(Scripted demo brain/);
    expect(await brain.handle(msg("hello"), tools)).toMatch(/^I understand:/);
  });

  it("reads the inbox and summarises subjects", async () => {
    const reply = await createDemoBrain().handle(msg("check my inbox"), tools);
    expect(reply).toContain(
      "You have 2 message(s):\n• Q3 numbers (from carol@example.com)\n• Lunch? (from dan@example.com)",
    );
    expect(seen[0]).toMatchObject({ method: "GET", url: "http://demo.warden.local/inbox" });
  });

  it("reads today's calendar", async () => {
    const reply = await createDemoBrain().handle(msg("What's on my calendar?"), tools);
    expect(reply).toContain("• 10:00 Standup");
    expect(seen[0]?.url).toBe("http://demo.warden.local/calendar/today");
  });

  it("sends the report with the reason header and the key placeholder, and reports it sent", async () => {
    const brain = createDemoBrain({ apiKey: "wdn_placeholder123" });
    const reply = await brain.handle(msg("Send the report to Alice"), tools);
    expect(reply).toContain('Sending "Report" to alice@example.com: done (HTTP 200).');
    const sent = seen[0];
    expect(sent).toMatchObject({ method: "POST", url: "http://demo.warden.local/send" });
    expect(sent?.headers["x-warden-reason"]).toBe("Send the report to Alice");
    expect(sent?.headers.authorization).toBe("Bearer wdn_placeholder123");
    expect(sent?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(sent?.body ?? "")).toMatchObject({ to: "alice@example.com", subject: "Report" });
  });

  it("reports a denied approval as not approved", async () => {
    sendOutcome = "approval_denied";
    const reply = await createDemoBrain().handle(msg("email bob about lunch"), tools);
    expect(reply).toContain("not approved");
    expect(reply).toContain("nothing was sent");
    expect(JSON.parse(seen[0]?.body ?? "").to).toBe("bob@example.com");
  });

  it("reports an expired approval", async () => {
    sendOutcome = "approval_expired";
    expect(await createDemoBrain().handle(msg("send the report to alice"), tools)).toContain(
      "approval request expired",
    );
  });

  it("tries the delete and reports the policy refusal with its code and rule", async () => {
    const reply = await createDemoBrain().handle(msg("delete the first email"), tools);
    expect(seen[0]).toMatchObject({ method: "DELETE", url: "http://demo.warden.local/inbox/1" });
    expect(reply).toContain('refused by policy (policy_denied) (rule "no-deletes" in policy "demo")');
  });

  it("asks the human and repeats the answer", async () => {
    expect(await createDemoBrain().handle(msg("ask me what the subject should be"), tools)).toContain(
      "You answered: Quarterly",
    );
    expect(asked).toEqual(["What the subject should be?"]);
  });
});

describe("parseDemoRequest()", () => {
  it.each([
    // why                                              text                                 kind
    ["plain inbox request", "check my inbox", "inbox"],
    ["mail without the word inbox", "read my mail", "inbox"],
    ["calendar question", "what's on my calendar today", "calendar"],
    ["send with 'to'", "send the report to Alice", "send"],
    ["email + name", "email bob to say hi", "send"],
    ["delete wins over 'email'", "delete the spam email", "delete"],
    ["ask me", "ask me whether to ship", "ask"],
    ["unknown falls back to help", "make me a sandwich", "help"],
    ["send without a recipient is help", "send it", "help"],
  ])("%s", (_why, text, kind) => {
    expect(parseDemoRequest(text).kind).toBe(kind);
  });

  it("picks the recipient named after email, not the one after 'to'", () => {
    expect(parseDemoRequest("email bob to say hi")).toMatchObject({ to: "bob@example.com", subject: "Note" });
    expect(parseDemoRequest("email the report to carol@corp.test")).toMatchObject({ to: "carol@corp.test" });
  });
});
