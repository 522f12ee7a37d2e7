/**
 * The official `openai` (6.x) and `@anthropic-ai/sdk` (1.x) packages, unmodified, through the real
 * gateway and the SHIPPED presets (policies/presets/openai.yaml and anthropic.yaml copied verbatim),
 * with `baseURL` on the real hostnames (resolved by `--resolve` to fake APIs on 127.0.0.1) and
 * undici's ProxyAgent from the agent's env. Each SDK holds only its placeholder; the fake API accepts
 * only the real key in the header the SDK really sends, so a success proves the preset's declared
 * secret place matches the SDK. Plain and streamed calls; a stream yields its first delta while
 * the fake API still holds back the rest. Nothing an SDK returns may hold a real key.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../fakes/gateway-process.js";
import { type ClientWorld, startClientWorld } from "./client-world.js";
import { type AiApis, serveAiApis } from "./fake-ai-apis.js";
import { agentProxy, type Dispatcher, fetch } from "./undici-proxy.js";

const OPENAI_KEY = "sk-proj-REALopenaiKEY7a2c9e41f0b3d865";
const ANTHROPIC_KEY = "sk-ant-api03-REALanthropicKEY5e8b1c0d7f2a94";

let world: ClientWorld;
let apis: AiApis;
let dispatcher: Dispatcher;
let openai: OpenAI;
let anthropic: Anthropic;

const preset = (name: string) => readFile(join(REPO_ROOT, "policies", "presets", `${name}.yaml`), "utf8");
/** The SDKs type `fetch` as the DOM one; undici's is the same function with its own types. */
const sdkFetch = fetch as unknown as typeof globalThis.fetch;

beforeAll(async () => {
  world = await startClientWorld({
    policies: { openai: await preset("openai"), anthropic: await preset("anthropic") },
    secrets: { OPENAI_API_KEY: OPENAI_KEY, ANTHROPIC_API_KEY: ANTHROPIC_KEY },
    hosts: ["api.openai.com", "api.anthropic.com"],
  });
  apis = serveAiApis(world, { openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY });
  dispatcher = agentProxy(world.agent.env, world.gw.caPem);
  const common = { maxRetries: 0, timeout: 30_000, fetch: sdkFetch, fetchOptions: { dispatcher } as object };
  openai = new OpenAI({
    ...common,
    apiKey: world.placeholder("OPENAI_API_KEY"),
    baseURL: "https://api.openai.com/v1",
  });
  anthropic = new Anthropic({
    ...common,
    apiKey: world.placeholder("ANTHROPIC_API_KEY"),
    baseURL: "https://api.anthropic.com",
  });
});

afterAll(async () => {
  await dispatcher?.close();
  await world?.close();
});

/** The single request the fake API saw, after checking the real key sat in `header`. */
async function upstreamGot(path: string, header: string, key: string) {
  const seen = (await world.requests()).filter((r) => r.url === path);
  expect(seen).toHaveLength(1);
  expect(seen[0]?.headers[header]).toBe(header === "authorization" ? `Bearer ${key}` : key);
  return seen[0]!;
}

const headersText = (headers: Headers) => JSON.stringify([...headers.entries()]);

describe("openai SDK through the openai preset", () => {
  it("chat.completions.create returns the completion; the API got the real key", async () => {
    world.reset();
    const { data, response } = await openai.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello" }] })
      .withResponse();
    world.expectNoSecret(`${JSON.stringify(data)}${headersText(response.headers)}`, "the SDK's result");
    expect(data.choices[0]?.message.content).toBe("Hello there");
    const seen = await upstreamGot("/v1/chat/completions", "authorization", OPENAI_KEY);
    expect(JSON.parse(seen.body.toString())).toMatchObject({
      model: "gpt-4o-mini",
      messages: [{ role: "user" }],
    });
  });

  it("a streamed completion yields its first delta before the API sends the rest", async () => {
    world.reset();
    const gate = apis.nextStreamGate();
    const stream = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Say hello" }],
      stream: true,
    });
    const chunks = stream[Symbol.asyncIterator]();
    const first = await chunks.next();
    expect(first.value?.choices[0]?.delta.content).toBe("Hello");
    (await gate)();
    const all = [first.value];
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) all.push(next.value);
    world.expectNoSecret(JSON.stringify(all), "the streamed chunks");
    expect(all.map((c) => c?.choices[0]?.delta.content ?? "").join("")).toBe("Hello there");
    expect(all.at(-1)?.choices[0]?.finish_reason).toBe("stop");
    await upstreamGot("/v1/chat/completions", "authorization", OPENAI_KEY);
  });
});

describe("@anthropic-ai/sdk through the anthropic preset", () => {
  it("messages.create returns the message; the API got the real key", async () => {
    world.reset();
    const { data, response } = await anthropic.messages
      .create({
        model: "claude-sonnet-4-6",
        max_tokens: 64,
        messages: [{ role: "user", content: "Say hello" }],
      })
      .withResponse();
    world.expectNoSecret(`${JSON.stringify(data)}${headersText(response.headers)}`, "the SDK's result");
    expect(data.content[0]).toEqual({ type: "text", text: "Hello there" });
    const seen = await upstreamGot("/v1/messages", "authorization", ANTHROPIC_KEY);
    expect(seen.headers["anthropic-version"]).toBeTruthy();
  });

  it("a streamed message yields its first text delta before the API sends the rest", async () => {
    world.reset();
    const gate = apis.nextStreamGate();
    const stream = await anthropic.messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 64,
      messages: [{ role: "user", content: "Say hello" }],
      stream: true,
    });
    const events = stream[Symbol.asyncIterator]();
    const seen: unknown[] = [];
    let text = "";
    while (!text) {
      const next = await events.next();
      if (next.done) throw new Error("stream ended before any text");
      seen.push(next.value);
      if (next.value.type === "content_block_delta" && next.value.delta.type === "text_delta")
        text += next.value.delta.text;
    }
    expect(text).toBe("Hello");
    (await gate)();
    for (let next = await events.next(); !next.done; next = await events.next()) {
      seen.push(next.value);
      if (next.value.type === "content_block_delta" && next.value.delta.type === "text_delta")
        text += next.value.delta.text;
    }
    world.expectNoSecret(JSON.stringify(seen), "the streamed events");
    expect(text).toBe("Hello there");
    expect(seen.at(-1)).toEqual({ type: "message_stop" });
    await upstreamGot("/v1/messages", "authorization", ANTHROPIC_KEY);
  });
});

describe("the anthropic preset's other place: x-api-key (the docs' curl examples, older SDKs)", () => {
  it("a request with the placeholder in x-api-key reaches the API with the real key", async () => {
    world.reset();
    const res = await fetch("https://api.anthropic.com/v1/messages", {
      method: "POST",
      dispatcher,
      headers: {
        "x-api-key": world.placeholder("ANTHROPIC_API_KEY"),
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
      },
      body: JSON.stringify({
        model: "claude-sonnet-4-6",
        max_tokens: 64,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    const text = await res.text();
    world.expectNoSecret(`${headersText(res.headers as unknown as Headers)}${text}`, "the response");
    expect(res.status, text).toBe(200);
    expect(JSON.parse(text).content).toEqual([{ type: "text", text: "Hello there" }]);
    await upstreamGot("/v1/messages", "x-api-key", ANTHROPIC_KEY);
  });
});

it("the gateway's output and audit hold no real value; each upstream request has one audited allow", async () => {
  await world.expectGatewayKeptBooks();
});
