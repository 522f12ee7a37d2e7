import { mkdir, mkdtemp, realpath, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Tools } from "../brain.js";
import { createHttpTool } from "../http-tool.js";
import { parseProxyUrl } from "../proxy-request.js";
import { createWorkspaceTools } from "../workspace-tools.js";
import { createOpenAiBrain } from "./openai.js";
import { runToolCall } from "./openai-tools.js";

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

// biome-ignore lint/suspicious/noExplicitAny: the fake reads fields of arbitrary request JSON.
type Json = any;
const seen: Seen[] = [];
/** Scripted model answers, taken one per /chat/completions call. */
let script: Array<(request: Json) => Json> = [];
let server: http.Server;
let proxyUrl: string;
let root: string;
let tools: Tools;

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** Fake proxy: serves the fake model at model.test and a fake API at api.test, refuses the rest. */
function route(s: Seen, res: http.ServerResponse) {
  const url = new URL(s.url);
  if (url.host === "model.test" && url.pathname === "/v1/chat/completions") {
    const next = script.shift();
    if (!next) return json(res, 500, { error: "script exhausted" });
    return json(res, 200, {
      id: "c",
      object: "chat.completion",
      choices: [{ index: 0, message: next(JSON.parse(s.body)) }],
    });
  }
  if (url.host === "api.test" && url.pathname === "/weather")
    return json(res, 200, { city: "Oslo", sky: "snow" });
  return json(
    res,
    403,
    { error: { code: "host_not_allowed", message: "no policy" } },
    { "x-warden-error": "host_not_allowed" },
  );
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
      route(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  proxyUrl = `http://agent:tok@127.0.0.1:${(server.address() as AddressInfo).port}`;
  root = await realpath(await mkdtemp(join(tmpdir(), "warden-openai-")));
  await mkdir(join(root, "workspace"));
  await mkdir(join(root, "tmp"));
  tools = {
    http: createHttpTool({ proxy: parseProxyUrl(proxyUrl), caPath: "/nonexistent" }),
    ...createWorkspaceTools({ workspace: join(root, "workspace"), extraRoots: [join(root, "tmp")] }),
    ask: async (q) => `answer to ${q}`,
    status: async () => {},
  };
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(root, { recursive: true, force: true });
});

beforeEach(() => {
  seen.length = 0;
  script = [];
});

function brain() {
  const proxy = parseProxyUrl(proxyUrl);
  return createOpenAiBrain({
    baseUrl: "http://model.test/v1/",
    model: "tiny-test-model",
    apiKey: "wdn_openai_placeholder",
    http: createHttpTool({ proxy, caPath: "/nonexistent" }),
    agentName: "helper",
  });
}

const msg = (text: string) => ({ id: "m1", text, from: null, at: "2025-01-01T00:00:00Z" });
const call = (id: string, name: string, args: unknown) => ({
  id,
  type: "function",
  function: { name, arguments: JSON.stringify(args) },
});

describe("createOpenAiBrain()", () => {
  it("runs a tool call through the proxy and feeds the result back before the final answer", async () => {
    script = [
      () => ({
        role: "assistant",
        content: null,
        tool_calls: [call("call_1", "http_request", { method: "GET", url: "http://api.test/weather" })],
      }),
      () => ({ role: "assistant", content: "It is snowing in Oslo." }),
    ];
    expect(await brain().handle(msg("weather?"), tools)).toBe("It is snowing in Oslo.");

    const model = seen.filter((s) => s.url === "http://model.test/v1/chat/completions");
    expect(model).toHaveLength(2);
    expect(model[0]?.headers.authorization).toBe("Bearer wdn_openai_placeholder");
    const first = JSON.parse(model[0]?.body ?? "");
    expect(first.model).toBe("tiny-test-model");
    expect(first.tools.map((t: Json) => t.function.name)).toEqual([
      "http_request",
      "shell",
      "read_file",
      "write_file",
      "ask_human",
    ]);
    expect(first.messages.map((m: Json) => m.role)).toEqual(["system", "user"]);

    expect(seen.some((s) => s.method === "GET" && s.url === "http://api.test/weather")).toBe(true);
    const second = JSON.parse(model[1]?.body ?? "");
    expect(second.messages.map((m: Json) => m.role)).toEqual(["system", "user", "assistant", "tool"]);
    expect(second.messages[2].tool_calls[0].id).toBe("call_1");
    const tool = second.messages[3];
    expect(tool.tool_call_id).toBe("call_1");
    const result = JSON.parse(tool.content);
    expect(result.status).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ city: "Oslo", sky: "snow" });
  });

  it("passes the gateway's refusal to the model as warden_error", async () => {
    let toolMessage: Json;
    script = [
      () => ({
        role: "assistant",
        content: null,
        tool_calls: [call("c1", "http_request", { method: "GET", url: "http://evil.test/" })],
      }),
      (req) => {
        toolMessage = req.messages.at(-1);
        return { role: "assistant", content: "That host is not allowed." };
      },
    ];
    await brain().handle(msg("fetch evil"), tools);
    expect(JSON.parse(toolMessage.content).warden_error).toEqual({
      code: "host_not_allowed",
      message: "no policy",
    });
  });

  it("keeps earlier turns as context for the next message", async () => {
    const b = brain();
    script = [() => ({ role: "assistant", content: "Hi!" })];
    await b.handle(msg("hello"), tools);
    let roles: string[] = [];
    script = [
      (req) => {
        roles = req.messages.map((m: Json) => `${m.role}:${m.content}`);
        return { role: "assistant", content: "ok" };
      },
    ];
    await b.handle(msg("again"), tools);
    expect(roles.slice(1)).toEqual(["user:hello", "assistant:Hi!", "user:again"]);
  });

  it("stops after maxSteps of tool calls", async () => {
    const loop = () => ({
      role: "assistant",
      content: null,
      tool_calls: [call("c", "shell", { command: "true" })],
    });
    script = [loop, loop, loop];
    const b = createOpenAiBrain({
      baseUrl: "http://model.test/v1",
      model: "m",
      http: createHttpTool({ proxy: parseProxyUrl(proxyUrl), caPath: "/x" }),
      maxSteps: 3,
    });
    expect(await b.handle(msg("loop"), tools)).toBe("I stopped after 3 steps without reaching an answer.");
  });

  it("throws model_error with the gateway code when the model endpoint is refused", async () => {
    const b = createOpenAiBrain({
      baseUrl: "http://blocked-model.test/v1",
      model: "m",
      http: createHttpTool({ proxy: parseProxyUrl(proxyUrl), caPath: "/x" }),
    });
    await expect(b.handle(msg("hi"), tools)).rejects.toMatchObject({
      code: "model_error",
      message: expect.stringContaining("(host_not_allowed)"),
    });
  });
});

describe("runToolCall()", () => {
  it.each([
    ["read_file", { path: "../../etc/passwd" }],
    ["write_file", { path: "../../etc/passwd", content: "root::0:0::/:/bin/sh" }],
    ["read_file", { path: "/etc/passwd" }],
  ])("%s refuses %j as path_outside_workspace", async (name, args) => {
    const out = JSON.parse(await runToolCall(name, JSON.stringify(args), tools));
    expect(out.code).toBe("path_outside_workspace");
  });

  it("write_file then read_file round-trips inside the workspace", async () => {
    expect(JSON.parse(await runToolCall("write_file", '{"path":"a/b.txt","content":"hi"}', tools))).toEqual({
      ok: true,
      bytes: 2,
    });
    expect(JSON.parse(await runToolCall("read_file", '{"path":"a/b.txt"}', tools))).toEqual({
      content: "hi",
    });
  });

  it("shell runs in the workspace", async () => {
    const out = JSON.parse(await runToolCall("shell", '{"command":"pwd"}', tools));
    expect(out).toMatchObject({ exit_code: 0, stdout: `${join(root, "workspace")}\n` });
  });

  it("ask_human relays the question", async () => {
    expect(JSON.parse(await runToolCall("ask_human", '{"question":"ok?"}', tools))).toEqual({
      answer: "answer to ok?",
    });
  });

  it("reports bad arguments and unknown tools to the model instead of throwing", async () => {
    expect(JSON.parse(await runToolCall("shell", "{not json", tools)).error).toMatch(/not a JSON object/);
    expect(JSON.parse(await runToolCall("shell", "{}", tools)).error).toMatch(/"command" must be a string/);
    expect(JSON.parse(await runToolCall("rm_rf", "{}", tools)).error).toBe("unknown tool rm_rf");
  });
});
