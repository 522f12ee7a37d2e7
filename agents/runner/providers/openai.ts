/**
 * Brain backed by any OpenAI-compatible Chat Completions endpoint (OpenAI, a local model server, …).
 * The model call goes through the Warden proxy like every other request: the container holds only
 * the OPENAI_API_KEY placeholder, which the gateway swaps for the real key on the model's host alone.
 * Non-streaming on purpose: replies go to a chat as whole messages anyway.
 */
import type { Brain } from "../brain.js";
import { RunnerError } from "../errors.js";
import type { HttpRequestFn } from "../http-tool.js";
import { OPENAI_TOOLS, runToolCall } from "./openai-tools.js";

/** Options for {@link createOpenAiBrain}. */
export interface OpenAiBrainOptions {
  /** e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`; `/chat/completions` is appended. */
  readonly baseUrl: string;
  readonly model: string;
  /** The placeholder (never a real key inside a container). Omitted from the request when absent. */
  readonly apiKey?: string;
  /** Sends the model request; a proxied http tool without the "waiting approval" timer. */
  readonly http: HttpRequestFn;
  readonly agentName?: string;
  /** Model round trips per message before giving up; default 20. */
  readonly maxSteps?: number;
  /** Earlier user/assistant turns kept as context; default 20 messages. */
  readonly historyLimit?: number;
}

interface ToolCall {
  readonly id: string;
  readonly type?: string;
  readonly function: { readonly name: string; readonly arguments: string };
}

type ChatMessage =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content: string | null; tool_calls?: ToolCall[] }
  | { role: "tool"; tool_call_id: string; content: string };

/** Creates a tool-calling brain for an OpenAI-compatible endpoint. */
export function createOpenAiBrain(options: OpenAiBrainOptions): Brain {
  const { maxSteps = 20, historyLimit = 20 } = options;
  const url = `${options.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  const system: ChatMessage = { role: "system", content: systemPrompt(options.agentName) };
  // Only finished turns are kept: tool transcripts are large and stale once answered.
  const history: ChatMessage[] = [];

  async function complete(messages: ChatMessage[]) {
    const res = await options.http({
      method: "POST",
      url,
      headers: {
        "content-type": "application/json",
        ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      },
      body: JSON.stringify({ model: options.model, messages, tools: OPENAI_TOOLS, tool_choice: "auto" }),
    });
    if (res.status !== 200) {
      const why = res.wardenError ? ` (${res.wardenError.code})` : "";
      throw new RunnerError(
        "model_error",
        `model endpoint answered ${res.status}${why}: ${res.body.slice(0, 300)}`,
      );
    }
    let message: { content?: unknown; tool_calls?: unknown } | undefined;
    try {
      message = (JSON.parse(res.body) as { choices?: Array<{ message?: typeof message }> }).choices?.[0]
        ?.message;
    } catch (cause) {
      throw new RunnerError("model_error", "model endpoint answered with invalid JSON", { cause });
    }
    if (!message) throw new RunnerError("model_error", "model response has no choices[0].message");
    const content = typeof message.content === "string" ? message.content : null;
    const toolCalls = Array.isArray(message.tool_calls)
      ? message.tool_calls.filter(isToolCall).map(normalise)
      : [];
    return { content, toolCalls };
  }

  return {
    async handle(message, tools) {
      const user: ChatMessage = { role: "user", content: message.text };
      const messages: ChatMessage[] = [system, ...history, user];
      for (let step = 0; step < maxSteps; step++) {
        const { content, toolCalls } = await complete(messages);
        if (toolCalls.length === 0) {
          const reply = content ?? "";
          history.push(user, { role: "assistant", content: reply });
          history.splice(0, Math.max(0, history.length - historyLimit));
          return reply;
        }
        messages.push({ role: "assistant", content, tool_calls: toolCalls });
        for (const call of toolCalls) {
          const result = await runToolCall(call.function.name, call.function.arguments, tools);
          messages.push({ role: "tool", tool_call_id: call.id, content: result });
        }
      }
      return `I stopped after ${maxSteps} steps without reaching an answer.`;
    },
  };
}

function isToolCall(v: unknown): v is ToolCall {
  const c = v as Partial<ToolCall> | null;
  return typeof c?.id === "string" && typeof c.function?.name === "string";
}

/** Some local servers send `arguments` as an object; the protocol (and our echo of it) wants a string. */
function normalise(call: ToolCall): ToolCall {
  const args: unknown = call.function.arguments;
  const text = typeof args === "string" ? args : JSON.stringify(args ?? {});
  return { id: call.id, type: "function", function: { name: call.function.name, arguments: text } };
}

function systemPrompt(agent = "agent"): string {
  return [
    `You are "${agent}", an AI agent running inside a Warden sandbox, talking to a person through a chat.`,
    "You have no direct network access: every HTTP request goes through the Warden gateway, which applies",
    "the owner's policies. Some requests are held until a human approves them; if a tool result carries",
    "warden_error (e.g. policy_denied, approval_denied, approval_expired), report that honestly and do not",
    "try to work around it. Credentials are placeholders in environment variables (see `env` in the shell);",
    "use them as-is in headers and the gateway substitutes the real value. Work in /workspace.",
    "Reply concisely with what you did and the outcome.",
  ].join("\n");
}
