import { describe, expect, it } from "vitest";
import type { Brain, Tools } from "./brain.js";
import type { AgentState, InboxMessage, MailboxClient } from "./mailbox-client.js";
import { runLoop } from "./run-loop.js";

/** An in-memory mailbox: hands out queued batches, then stops the loop. */
function fakeMailbox(batches: InboxMessage[][], stop: AbortController, failReply = false) {
  const events: string[] = [];
  const mailbox: MailboxClient = {
    async inbox() {
      const next = batches.shift();
      if (!next) {
        stop.abort();
        return [];
      }
      return next;
    },
    async reply(text, replyTo) {
      events.push(`reply ${replyTo}: ${text}`);
      if (failReply) throw new Error("outbox down");
    },
    async ask() {
      return "";
    },
    async status(state: AgentState, detail?: string) {
      events.push(`status ${state}${detail ? ` ${detail}` : ""}`);
    },
  };
  const tools = { status: (s: AgentState, d?: string) => mailbox.status(s, d) } as unknown as Tools;
  return { mailbox, tools, events };
}

const m = (id: string, text: string): InboxMessage => ({ id, text, from: null, at: "2025-01-01T00:00:00Z" });

describe("runLoop()", () => {
  it("reports idle → thinking → reply → done for each message", async () => {
    const stop = new AbortController();
    const { mailbox, tools, events } = fakeMailbox([[m("1", "hi"), m("2", "yo")]], stop);
    const brain: Brain = { handle: async (msg) => `echo ${msg.text}` };
    await runLoop({ mailbox, brain, tools, signal: stop.signal });
    expect(events).toEqual([
      "status idle",
      "status thinking",
      "reply 1: echo hi",
      "status done",
      "status thinking",
      "reply 2: echo yo",
      "status done",
      "status idle",
    ]);
  });

  it("replies 'error: …' and reports status error when the brain throws, then keeps going", async () => {
    const stop = new AbortController();
    const { mailbox, tools, events } = fakeMailbox([[m("1", "boom")], [m("2", "fine")]], stop);
    const logged: string[] = [];
    const brain: Brain = {
      handle: async (msg) => {
        if (msg.text === "boom") throw Object.assign(new Error("model down"), { code: "model_error" });
        return "ok";
      },
    };
    await runLoop({ mailbox, brain, tools, signal: stop.signal, log: (e) => logged.push(e) });
    expect(events).toContain("reply 1: error: model_error: model down");
    expect(events).toContain("status error model_error: model down");
    expect(events).toContain("reply 2: ok");
    expect(logged).toEqual(["message_failed"]);
  });

  it("reports status error when the reply cannot be posted", async () => {
    const stop = new AbortController();
    const { mailbox, tools, events } = fakeMailbox([[m("1", "hi")]], stop, true);
    await runLoop({ mailbox, brain: { handle: async () => "ok" }, tools, signal: stop.signal });
    expect(events).toContain("status error could not post the reply");
  });

  it("survives an inbox failure and polls again", async () => {
    const stop = new AbortController();
    const { mailbox, tools, events } = fakeMailbox([[m("1", "hi")]], stop);
    let first = true;
    const inbox = mailbox.inbox.bind(mailbox);
    mailbox.inbox = async (w, s) => {
      if (first) {
        first = false;
        throw new Error("mailbox_rejected");
      }
      return inbox(w, s);
    };
    await runLoop({ mailbox, brain: { handle: async () => "ok" }, tools, signal: stop.signal, retryMs: 1 });
    expect(events).toContain("reply 1: ok");
  });
});
