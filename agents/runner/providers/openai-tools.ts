/**
 * The tools offered to an OpenAI-compatible model, as JSON schemas, and the dispatcher that runs a
 * model's tool call. Everything the model sends is untrusted: arguments are checked for shape, and
 * any failure (bad JSON, a refused path, a gateway refusal) goes back to the model as a result it can
 * read and react to, never as an exception that would end the conversation.
 */
import type { Tools } from "../brain.js";

/** Tool results are cut to this many characters so one big answer cannot fill the context. */
const MAX_RESULT_CHARS = 100 * 1024;

/** Tool definitions in the Chat Completions `tools` format. */
export const OPENAI_TOOLS = [
  fn(
    "http_request",
    "Send an HTTP(S) request. All traffic passes the Warden gateway, which applies policy, may hold a request until a human approves it, and swaps secret placeholders (env vars) for real credentials. A refusal comes back as warden_error.",
    {
      method: { type: "string", description: "GET, POST, PUT, PATCH, DELETE, HEAD" },
      url: { type: "string", description: "Absolute http:// or https:// URL" },
      headers: { type: "object", additionalProperties: { type: "string" } },
      body: { type: "string", description: "Request body as text (e.g. JSON)" },
    },
    ["method", "url"],
  ),
  fn(
    "shell",
    "Run a command with /bin/sh -c in /workspace (60 s timeout, output truncated).",
    {
      command: { type: "string" },
    },
    ["command"],
  ),
  fn("read_file", "Read a text file under /workspace or /tmp.", { path: { type: "string" } }, ["path"]),
  fn(
    "write_file",
    "Write a text file under /workspace or /tmp (parents are created).",
    {
      path: { type: "string" },
      content: { type: "string" },
    },
    ["path", "content"],
  ),
  fn(
    "ask_human",
    "Ask the human you work for a question in the chat and wait for the answer.",
    {
      question: { type: "string" },
    },
    ["question"],
  ),
] as const;

function fn(name: string, description: string, properties: Record<string, unknown>, required: string[]) {
  return {
    type: "function",
    function: { name, description, parameters: { type: "object", properties, required } },
  };
}

/** Runs one tool call and returns the text the model receives as the `role: "tool"` message. */
export async function runToolCall(name: string, rawArguments: string, tools: Tools): Promise<string> {
  let args: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(rawArguments || "{}");
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    args = parsed as Record<string, unknown>;
  } catch {
    return result({ error: `arguments for ${name} are not a JSON object` });
  }
  try {
    return result(await dispatch(name, args, tools));
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const message = err instanceof Error ? err.message : String(err);
    return result({ error: message, ...(typeof code === "string" ? { code } : {}) });
  }
}

async function dispatch(name: string, args: Record<string, unknown>, tools: Tools): Promise<unknown> {
  switch (name) {
    case "http_request": {
      const res = await tools.http({
        method: text(args, "method"),
        url: text(args, "url"),
        headers: stringRecord(args.headers),
        body: typeof args.body === "string" ? args.body : undefined,
      });
      return {
        status: res.status,
        headers: res.headers,
        body: res.body,
        truncated: res.truncated,
        ...(res.wardenError ? { warden_error: res.wardenError } : {}),
      };
    }
    case "shell": {
      const r = await tools.shell(text(args, "command"));
      return {
        exit_code: r.exitCode,
        stdout: r.stdout,
        stderr: r.stderr,
        timed_out: r.timedOut,
        truncated: r.truncated,
      };
    }
    case "read_file":
      return { content: await tools.readFile(text(args, "path")) };
    case "write_file": {
      const content = text(args, "content", true);
      await tools.writeFile(text(args, "path"), content);
      return { ok: true, bytes: Buffer.byteLength(content) };
    }
    case "ask_human":
      return { answer: await tools.ask(text(args, "question")) };
    default:
      return { error: `unknown tool ${name}` };
  }
}

function text(args: Record<string, unknown>, key: string, allowEmpty = false): string {
  const v = args[key];
  if (typeof v !== "string" || (!allowEmpty && v === "")) throw new Error(`"${key}" must be a string`);
  return v;
}

function stringRecord(v: unknown): Record<string, string> | undefined {
  if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (val !== undefined && val !== null) out[k] = String(val);
  return out;
}

function result(value: unknown): string {
  const s = typeof value === "string" ? value : JSON.stringify(value);
  return s.length > MAX_RESULT_CHARS ? `${s.slice(0, MAX_RESULT_CHARS)}…[truncated]` : s;
}
