/**
 * Fake OpenAI and Anthropic endpoints for the recording upstreams, answering the way the real APIs
 * do: `POST /v1/chat/completions` and `POST /v1/messages`, JSON or SSE when the body says
 * `"stream": true`. Each refuses a request without the real key in the header the SDK uses (401 in
 * the API's own error shape). A stream sends its first delta, then waits for the test to release
 * it, so a test can prove the SDK yielded that delta before the rest existed.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RecordedRequest } from "../../fakes/upstreams.js";
import type { ClientWorld } from "./client-world.js";

export interface AiApis {
  /** Resolves when a stream has sent its first delta; call the result to let it finish. */
  nextStreamGate(): Promise<() => void>;
}

const sse = (event: string | undefined, data: unknown) =>
  `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;

type Stream = { first: string[]; rest: string[] };

function chatCompletion(model: string): { json: unknown; stream: Stream } {
  const base = { id: "chatcmpl-warden1", object: "chat.completion.chunk", created: 1_700_000_000, model };
  const chunk = (delta: object, finish: string | null) => ({
    ...base,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  });
  return {
    json: {
      id: "chatcmpl-warden1",
      object: "chat.completion",
      created: 1_700_000_000,
      model,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "Hello there", refusal: null },
          finish_reason: "stop",
          logprobs: null,
        },
      ],
      usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
    },
    stream: {
      first: [sse(undefined, chunk({ role: "assistant", content: "Hello" }, null))],
      rest: [
        sse(undefined, chunk({ content: " there" }, null)),
        sse(undefined, chunk({}, "stop")),
        sse(undefined, "[DONE]"),
      ],
    },
  };
}

function message(model: string): { json: unknown; stream: Stream } {
  const head = { id: "msg_warden1", type: "message", role: "assistant", model };
  const usage = { input_tokens: 5, output_tokens: 2 };
  const delta = (text: string) => ({
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text },
  });
  return {
    json: {
      ...head,
      content: [{ type: "text", text: "Hello there" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage,
    },
    stream: {
      first: [
        sse("message_start", {
          type: "message_start",
          message: { ...head, content: [], stop_reason: null, stop_sequence: null, usage },
        }),
        sse("content_block_start", {
          type: "content_block_start",
          index: 0,
          content_block: { type: "text", text: "" },
        }),
        sse("content_block_delta", delta("Hello")),
      ],
      rest: [
        sse("content_block_delta", delta(" there")),
        sse("content_block_stop", { type: "content_block_stop", index: 0 }),
        sse("message_delta", {
          type: "message_delta",
          delta: { stop_reason: "end_turn", stop_sequence: null },
          usage: { output_tokens: 2 },
        }),
        sse("message_stop", { type: "message_stop" }),
      ],
    },
  };
}

/** Registers both APIs on `world`; `keys` are the real values each API accepts. */
export function serveAiApis(world: ClientWorld, keys: { openai: string; anthropic: string }): AiApis {
  const parked: Array<() => void> = [];
  const waiters: Array<(release: () => void) => void> = [];
  const park = (release: () => void) => {
    const waiter = waiters.shift();
    if (waiter) waiter(release);
    else parked.push(release);
  };

  const endpoint =
    (key: string, build: (model: string) => { json: unknown; stream: Stream }, unauthorized: unknown) =>
    (req: IncomingMessage, res: ServerResponse, rec: RecordedRequest) => {
      void rec.done.then(() => {
        if (req.headers.authorization !== `Bearer ${key}` && req.headers["x-api-key"] !== key) {
          res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify(unauthorized));
          return;
        }
        const body = JSON.parse(rec.body.toString("utf8") || "{}") as { model?: string; stream?: boolean };
        const answer = build(body.model ?? "unknown");
        const ids = { "x-request-id": "req_warden1", "request-id": "req_warden1" };
        if (!body.stream) {
          res.writeHead(200, { "content-type": "application/json", ...ids }).end(JSON.stringify(answer.json));
          return;
        }
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", ...ids });
        res.flushHeaders();
        for (const part of answer.stream.first) res.write(part);
        park(() => res.end(answer.stream.rest.join("")));
      });
    };

  world.route(
    "/v1/chat/completions",
    endpoint(keys.openai, chatCompletion, {
      error: {
        message: "Incorrect API key provided.",
        type: "invalid_request_error",
        code: "invalid_api_key",
      },
    }),
  );
  world.route(
    "/v1/messages",
    endpoint(keys.anthropic, message, {
      type: "error",
      error: { type: "authentication_error", message: "invalid x-api-key" },
    }),
  );
  return {
    nextStreamGate: () => {
      const ready = parked.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}
