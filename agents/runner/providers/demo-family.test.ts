import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoService } from "../../demo-service.js";
import type { Tools } from "../brain.js";
import type { HttpToolRequest, HttpToolResponse } from "../http-tool.js";
import { actFamily, parseFamilyRequest } from "./demo-family.js";
import { parseDemoRequest } from "./demo.js";

describe("parseFamilyRequest()", () => {
  // biome-ignore format: a table reads best one row per line
  it.each([
    ["what's on the family calendar?",              { kind: "calendar" }],
    ["What is on the shopping list",                { kind: "shopping" }],
    ["add eggs to the shopping list",               { kind: "add", item: "eggs" }],
    ["please book a swimming lesson on Saturday.",  { kind: "book", what: "a swimming lesson on Saturday" }],
    ["buy a birthday present for Sam",              { kind: "buy", what: "a birthday present for Sam" }],
    ["pay for the school trip",                     { kind: "buy", what: "the school trip" }],
    ["message the dentist to move Tuesday",         { kind: "message", what: "the dentist to move Tuesday" }],
  ])("%s", (text, intent) => {
    expect(parseFamilyRequest(text)).toEqual(intent);
  });

  it("leaves the office demo phrases alone", () => {
    for (const t of [
      "send the report to Alice",
      "check my inbox",
      "what's on my calendar",
      "delete the first email",
    ]) {
      expect(parseFamilyRequest(t), t).toBeUndefined();
      expect(parseDemoRequest(t).kind, t).not.toBe("help");
    }
  });
});

describe("actFamily() against the pretend family service", () => {
  let demo: Awaited<ReturnType<typeof startDemoService>>;
  const outcomes = new Map<string, HttpToolResponse>();
  let tools: Tools;
  beforeAll(async () => {
    demo = await startDemoService({ apiKey: "k" });
    // The gateway is not under test here: requests go straight to the service, or get a decision.
    const http = async (req: HttpToolRequest): Promise<HttpToolResponse> => {
      const path = new URL(req.url).pathname;
      const canned = outcomes.get(path);
      if (canned) return canned;
      const res = await fetch(`http://127.0.0.1:${demo.port}${path}`, {
        method: req.method,
        headers: req.headers,
        body: req.body,
      });
      return { status: res.status, headers: {}, body: await res.text() } as HttpToolResponse;
    };
    tools = { http } as unknown as Tools;
  });
  afterAll(() => demo.close());
  const opts = { base: "http://family.warden.local", auth: { authorization: "Bearer k" }, reason: "why" };

  it("reads the calendar and the list, adds an item, books", async () => {
    expect(await actFamily({ kind: "calendar" }, tools, opts)).toMatch(/Swimming lesson/);
    expect(await actFamily({ kind: "add", item: "eggs" }, tools, opts)).toBe(
      "Added eggs to the shopping list.",
    );
    expect(await actFamily({ kind: "shopping" }, tools, opts)).toBe(
      "On the shopping list: milk, bread, apples, eggs.",
    );
    expect(await actFamily({ kind: "book", what: "a swim" }, tools, opts)).toBe(
      "Booking a swim: done, a parent approved it.",
    );
    expect(demo.family).toEqual([expect.objectContaining({ kind: "bookings", body: { what: "a swim" } })]);
  });

  it("reports a parent's no and an expiry plainly", async () => {
    const no = { status: 403, headers: {}, body: "", wardenError: { code: "approval_denied" } };
    outcomes.set("/family/orders", no as unknown as HttpToolResponse);
    expect(await actFamily({ kind: "buy", what: "a pony" }, tools, opts)).toBe(
      "Buying a pony: a parent said no, so I did not do it.",
    );
  });
});
