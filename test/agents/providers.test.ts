/**
 * End to end with real containers: the `openai` provider talks to a fake OpenAI-compatible server
 * through the gateway, makes a tool call the policy holds, a human approves it through the control
 * API, the tool result reaches the model and the final answer reaches the outbox. The `demo`
 * provider does the quick-start flow against the real demo service.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoService } from "../../agents/demo-service.js";
import { pollUntil } from "../fakes/poll-until.js";
import { type AgentWorld, dockerUnavailable, startAgentWorld } from "./agent-world.js";

const MODEL_KEY = `sk-real-model-key-${Date.now()}`;
const unavailable = dockerUnavailable();

interface ChatCall {
  auth?: string;
  messages: { role: string; content?: string | null; tool_call_id?: string }[];
}

/** A fake Chat Completions server: first asks for an http_request tool call, then answers. */
async function fakeOpenAi() {
  const calls: ChatCall[] = [];
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      const body = JSON.parse(raw) as ChatCall;
      calls.push({ auth: req.headers.authorization, messages: body.messages });
      const toolResult = body.messages.find((m) => m.role === "tool");
      const message = toolResult
        ? { role: "assistant", content: `Done. The service said: ${toolResult.content}` }
        : {
            role: "assistant",
            content: null,
            tool_calls: [
              {
                id: "call_1",
                type: "function",
                function: {
                  name: "http_request",
                  arguments: JSON.stringify({
                    method: "POST",
                    url: "http://up.test/deploy",
                    body: "ship it",
                  }),
                },
              },
            ],
          };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: "x",
          object: "chat.completion",
          choices: [{ index: 0, message, finish_reason: "stop" }],
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, calls, port: (server.address() as AddressInfo).port };
}

describe.skipIf(unavailable)(
  `agent providers in real containers${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    let world: AgentWorld;
    let model: Awaited<ReturnType<typeof fakeOpenAi>>;
    let demo: Awaited<ReturnType<typeof startDemoService>>;
    const deploys: string[] = [];
    let up: http.Server;

    beforeAll(async () => {
      model = await fakeOpenAi();
      demo = await startDemoService({ apiKey: "demo-real-key" });
      up = http.createServer((req, res) => {
        let raw = "";
        req.on("data", (c) => (raw += c));
        req.on("end", () => {
          deploys.push(raw);
          res.end("deployed v42");
        });
      });
      await new Promise<void>((r) => up.listen(0, "127.0.0.1", () => r()));
      world = await startAgentWorld({
        policies: {
          model:
            "hosts: [api.openai.test]\nsecrets:\n  OPENAI_API_KEY: {}\nrules:\n  - name: chat\n    methods: [POST]\n    action: allow\n",
          up: 'hosts: [up.test]\nrules:\n  - name: deploy\n    methods: [POST]\n    paths: ["/deploy"]\n    action: approve\n    approvers: ["test:alice"]\n',
          demo: 'hosts: [demo.warden.local]\nallow_private: true\nsecrets:\n  DEMO_API_KEY: {}\nrules:\n  - name: no-deletes\n    methods: [DELETE]\n    action: deny\n  - name: read\n    methods: [GET]\n    action: allow\n  - name: send\n    methods: [POST]\n    paths: ["/send"]\n    action: approve\n    approvers: ["test:alice"]\n',
        },
        resolve: {
          "api.openai.test": { host: "127.0.0.1", port: model.port },
          "up.test": { host: "127.0.0.1", port: (up.address() as AddressInfo).port },
          "demo.warden.local": { host: "127.0.0.1", port: demo.port },
        },
      });
      await world.gateway.credentials.setSecret("OPENAI_API_KEY", MODEL_KEY);
      await world.gateway.credentials.setSecret("DEMO_API_KEY", "demo-real-key");
    }, 600_000);

    afterAll(async () => {
      await world?.close();
      model?.server.close();
      up?.close();
      await demo?.close();
    });

    it("openai: tool call held, approved through the control API, result reaches the model, answer reaches the outbox", async () => {
      await world.manager.start("oai", {
        provider: "openai",
        env: { OPENAI_BASE_URL: "http://api.openai.test/v1", OPENAI_MODEL: "fake-model" },
      });
      await world.gateway.mailbox.deliver("oai", "deploy the new version", "test:alice");
      const pending = await pollUntil(
        "agent progress",
        async () => (await world.gateway.approvals.list("pending")).find((a) => a.agent === "oai"),
        60_000,
      );
      expect(pending).toMatchObject({
        host: "up.test",
        path: "/deploy",
        rule: "deploy",
        bodyPreview: "ship it",
      });
      expect(deploys).toEqual([]); // held: nothing upstream yet
      const decided = await world.gateway.approvals.decide(pending.id, {
        decision: "approve",
        by: "test:alice",
        scope: "once",
      });
      expect(decided.ok).toBe(true);
      const reply = await pollUntil(
        "agent progress",
        async () => (await world.gateway.mailbox.outbox("oai")).at(-1),
        60_000,
      );
      expect(deploys).toEqual(["ship it"]);
      expect(reply.text).toContain("deployed v42");
      // The model API was reached through the gateway with the real key swapped in.
      expect(model.calls.length).toBe(2);
      expect(model.calls.every((c) => c.auth === `Bearer ${MODEL_KEY}`)).toBe(true);
      expect(JSON.stringify(model.calls[1]?.messages)).toContain("deployed v42");
      const env = await world.runtime.exec("oai", ["/bin/sh", "-c", "env"]);
      expect(env.output).toMatch(/OPENAI_API_KEY=wdn_[0-9a-f]{40}/);
      expect(env.output).not.toContain(MODEL_KEY);
    }, 180_000);

    it("demo: 'send the report to Alice' is held, approved, and the demo service receives it", async () => {
      await world.manager.start("demo", { provider: "demo" });
      await world.gateway.mailbox.deliver("demo", "send the report to Alice", "test:alice");
      const pending = await pollUntil(
        "agent progress",
        async () => (await world.gateway.approvals.list("pending")).find((a) => a.agent === "demo"),
        60_000,
      );
      expect(pending.reason).toContain("send the report to Alice");
      await world.gateway.approvals.decide(pending.id, {
        decision: "approve",
        by: "test:alice",
        scope: "once",
      });
      const reply = await pollUntil(
        "agent progress",
        async () =>
          (await world.gateway.mailbox.outbox("demo")).find((m) => /Sending "Report".*: done/.test(m.text)),
        60_000,
      );
      expect(demo.sent.at(-1)?.to).toContain("alice");
      expect(reply.text).not.toContain("demo-real-key");
      await world.gateway.mailbox.deliver("demo", "delete the first email", "test:alice");
      const refused = await pollUntil(
        "agent progress",
        async () =>
          (await world.gateway.mailbox.outbox("demo")).find((m) =>
            /Deleting message 1: refused by policy \(policy_denied\)/.test(m.text),
          ),
        60_000,
      );
      expect(refused.text).toBeTruthy();
    }, 180_000);
  },
);
