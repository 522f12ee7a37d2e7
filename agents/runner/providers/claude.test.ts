import { describe, expect, it } from "vitest";
import { createClaudeBrain } from "./claude.js";

const msg = (text: string) => ({ id: "m", text, from: null, at: "2025-01-01T00:00:00Z" });
const tools = {} as never;

describe("createClaudeBrain()", () => {
  it("fails with provider_unavailable when the SDK is not installed", async () => {
    const absent = async (name: string) => {
      throw Object.assign(new Error(`Cannot find package '${name}'`), { code: "ERR_MODULE_NOT_FOUND" });
    };
    const brain = createClaudeBrain({ workspace: "/workspace", env: {}, loadModule: absent });
    await expect(brain.handle(msg("hi"), tools)).rejects.toMatchObject({
      code: "provider_unavailable",
      message: expect.stringContaining("@anthropic-ai/claude-agent-sdk"),
    });
  });

  it("returns the final result, passes env/cwd, and resumes the session on the next message", async () => {
    const calls: Array<{ prompt: string; options: Record<string, unknown> }> = [];
    const sdk = {
      async *query(args: { prompt: string; options: Record<string, unknown> }) {
        calls.push(args);
        yield { type: "system", subtype: "init", session_id: "s-1" };
        yield { type: "assistant", session_id: "s-1" };
        yield { type: "result", subtype: "success", result: `done: ${args.prompt}`, session_id: "s-1" };
      },
    };
    const brain = createClaudeBrain({
      workspace: "/workspace",
      env: { HTTPS_PROXY: "http://127.0.0.1:3128", ANTHROPIC_API_KEY: "wdn_x" },
      loadModule: async () => sdk,
    });
    expect(await brain.handle(msg("first"), tools)).toBe("done: first");
    expect(await brain.handle(msg("second"), tools)).toBe("done: second");
    expect(calls[0]?.options).toMatchObject({
      cwd: "/workspace",
      env: { HTTPS_PROXY: "http://127.0.0.1:3128", ANTHROPIC_API_KEY: "wdn_x" },
    });
    expect(calls[0]?.options.resume).toBeUndefined();
    expect(calls[0]?.options.env).toMatchObject({ CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" });
    expect(calls[1]?.options.resume).toBe("s-1");
  });

  it("lets the agent's env turn non-essential traffic back on", async () => {
    let options: Record<string, unknown> = {};
    const brain = createClaudeBrain({
      workspace: "/w",
      env: { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "0" },
      loadModule: async () => ({
        async *query(args: { options: Record<string, unknown> }) {
          options = args.options;
          yield { type: "result", subtype: "success", result: "ok" };
        },
      }),
    });
    await brain.handle(msg("x"), tools);
    expect(options.env).toMatchObject({ CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "0" });
  });

  it("turns an error result into model_error", async () => {
    const brain = createClaudeBrain({
      workspace: "/w",
      env: {},
      loadModule: async () => ({
        async *query() {
          yield { type: "result", subtype: "error_max_turns", is_error: true, errors: ["too many turns"] };
        },
      }),
    });
    await expect(brain.handle(msg("x"), tools)).rejects.toMatchObject({ code: "model_error" });
  });
});
