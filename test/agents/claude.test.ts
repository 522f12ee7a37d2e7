/**
 * The `claude` provider end to end: a real agent container runs the Claude Agent SDK (and its native
 * `claude` binary) against a fake Anthropic Messages API. The SDK only ever holds the `wdn_…`
 * placeholder; the gateway intercepts the TLS connection to api.anthropic.com, swaps in the real key
 * and forwards to the fake (trusted through `upstreamCa`). The real key must appear nowhere inside.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCa } from "../fakes/test-ca.js";
import { type AgentWorld, dockerUnavailable, startAgentWorld } from "./agent-world.js";

const REAL = `sk-ant-real-claude-key-${Date.now()}`;
const REPLY = "hi from the fake Messages API";
const unavailable = dockerUnavailable();

interface Seen {
  method: string;
  path: string;
  apiKey?: string;
  authorization?: string;
  stream?: boolean;
}
const seen: Seen[] = [];
let api: https.Server;
let world: AgentWorld;

/** A minimal Messages API: `POST /v1/messages` answers with one text block, as JSON or as SSE. */
function messagesApi(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: { model?: string; stream?: boolean } = {};
    try {
      body = raw ? (JSON.parse(raw) as typeof body) : {};
    } catch {
      // Not JSON; recorded all the same.
    }
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    seen.push({
      method: req.method ?? "",
      path,
      apiKey: header(req.headers["x-api-key"]),
      authorization: header(req.headers.authorization),
      stream: body.stream === true,
    });
    if (req.method !== "POST" || path !== "/v1/messages") {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ type: "error", error: { type: "not_found_error", message: "not here" } }));
      return;
    }
    const model = body.model ?? "claude-test";
    const id = `msg_fake_${seen.length}`;
    const usage = { input_tokens: 10, output_tokens: 5 };
    if (!body.stream) {
      res.writeHead(200, { "content-type": "application/json", "request-id": `req_${id}` });
      res.end(
        JSON.stringify({
          id,
          type: "message",
          role: "assistant",
          model,
          content: [{ type: "text", text: REPLY }],
          stop_reason: "end_turn",
          stop_sequence: null,
          usage,
        }),
      );
      return;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "request-id": `req_${id}`,
    });
    const event = (type: string, data: Record<string, unknown>) =>
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    event("message_start", {
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 1 },
      },
    });
    event("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
    event("content_block_delta", { index: 0, delta: { type: "text_delta", text: REPLY } });
    event("content_block_stop", { index: 0 });
    event("message_delta", {
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: 5 },
    });
    event("message_stop", {});
    res.end();
  });
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(",") : v;
}

/** True when a request to the Messages API carried the real key (x-api-key or a Bearer token). */
const carriesRealKey = (s: Seen) =>
  s.path === "/v1/messages" && (s.apiKey === REAL || s.authorization === `Bearer ${REAL}`);

describe.skipIf(unavailable)(
  `claude provider through the gateway${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    beforeAll(async () => {
      const ca = await createTestCa("Warden Test Anthropic CA");
      const leaf = await ca.issue(["api.anthropic.com"]);
      api = https.createServer({ cert: leaf.cert, key: leaf.key }, messagesApi);
      await new Promise<void>((r) => api.listen(0, "127.0.0.1", () => r()));
      const port = (api.address() as AddressInfo).port;
      world = await startAgentWorld({
        policies: {
          anthropic:
            "hosts: [api.anthropic.com]\nsecrets:\n  ANTHROPIC_API_KEY: {}\nrules:\n  - name: all\n    action: allow\n",
        },
        resolve: { "api.anthropic.com": { host: "127.0.0.1", port } },
        upstreamCa: [ca.pem],
      });
      await world.gateway.credentials.setSecret("ANTHROPIC_API_KEY", REAL);
      // No ANTHROPIC_BASE_URL: the SDK's default https://api.anthropic.com is the point of the test.
      await world.manager.start("claude1", { provider: "claude", env: {} });
    }, 600_000);

    afterAll(async () => {
      await world?.close();
      api?.close();
    });

    it("the SDK's request reaches the Messages API with the real key swapped in, and the reply comes back", async () => {
      await world.gateway.mailbox.deliver("claude1", "say hi", "test:alice");
      const deadline = Date.now() + 120_000;
      let replies = await world.gateway.mailbox.outbox("claude1");
      while (replies.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        replies = await world.gateway.mailbox.outbox("claude1");
      }
      const logs = await world.runtime.logs("claude1", 60).catch((e: Error) => e.message);
      const diagnosis = `requests: ${JSON.stringify(seen.map((s) => `${s.method} ${s.path}`))}\ncontainer log:\n${logs}`;
      expect(replies.length, diagnosis).toBeGreaterThan(0);

      const messages = seen.filter((s) => s.path === "/v1/messages");
      expect(messages.length, diagnosis).toBeGreaterThan(0);
      expect(messages.some(carriesRealKey), diagnosis).toBe(true);
      // Every request that reached the API carried the real key, never the placeholder.
      for (const s of seen) expect(`${s.apiKey ?? ""} ${s.authorization ?? ""}`).not.toContain("wdn_");

      const text = replies.map((m) => m.text).join("\n");
      expect(text, diagnosis).toContain(REPLY);
      expect(text).not.toContain(REAL);
      // The provider turns off Claude Code's telemetry and event logging (sent with the same key).
      expect(
        seen.some((s) => s.path.startsWith("/api/event_logging")),
        diagnosis,
      ).toBe(false);
    }, 150_000);

    it("holds only the placeholder: the real key is not in the container's env, processes or files", async () => {
      const env = await world.runtime.exec("claude1", ["/bin/sh", "-c", "env"]);
      expect(env.output).toMatch(/ANTHROPIC_API_KEY=wdn_/);
      expect(env.output).not.toContain(REAL);
      // Split so the script's own command line does not contain the value; covers the SDK's state in
      // HOME (/workspace/.claude) and the native binary's process environment.
      const half = Math.floor(REAL.length / 2);
      const sweep = await world.runtime.exec("claude1", [
        "/bin/sh",
        "-c",
        `A='${REAL.slice(0, half)}'; B='${REAL.slice(half)}'; cat /proc/*/environ /proc/*/cmdline 2>/dev/null | tr '\\0' '\\n'; grep -rl "$A$B" /workspace /tmp 2>/dev/null; echo end`,
      ]);
      expect(sweep.output).toContain("end");
      expect(sweep.output).not.toContain(REAL);
    });
  },
);
