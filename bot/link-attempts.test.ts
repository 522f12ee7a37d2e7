import { describe, expect, it } from "vitest";
import { createLinkAttempts, lockedText } from "./link-attempts.js";

const limits = { perPerson: 3, global: 5, windowMs: 60_000 };

describe("createLinkAttempts()", () => {
  it("locks one sender after its limit, until its oldest wrong code leaves the window", () => {
    const t = { now: 0 };
    const a = createLinkAttempts(() => t.now, limits);
    expect(a.failed("x:1")).toEqual({ ok: true });
    t.now = 10_000;
    expect(a.failed("x:1")).toEqual({ ok: true });
    t.now = 20_000;
    expect(a.failed("x:1")).toEqual({ ok: false, scope: "person", retryInMs: 40_000 });
    expect(a.check("x:2")).toEqual({ ok: true });
    t.now = 59_999;
    expect(a.check("x:1").ok).toBe(false);
    t.now = 60_000;
    expect(a.check("x:1")).toEqual({ ok: true });
  });

  it("past the global limit, senders who already failed wait; a fresh sender still gets one try", () => {
    const t = { now: 0 };
    const a = createLinkAttempts(() => t.now, limits);
    for (let i = 0; i < 4; i++) expect(a.failed(`x:${i}`).ok).toBe(true);
    expect(a.failed("x:9")).toEqual({ ok: false, scope: "global", retryInMs: 60_000 });
    expect(a.check("x:0")).toEqual({ ok: false, scope: "global", retryInMs: 60_000 });
    // Strangers cannot lock a real person out of linking: their first try is always looked at.
    expect(a.check("x:fresh")).toEqual({ ok: true });
    expect(a.failed("x:fresh")).toEqual({ ok: false, scope: "global", retryInMs: 60_000 });
    t.now = 60_001;
    expect(a.check("x:0")).toEqual({ ok: true });
  });

  it("says whose limit it is and when to try again", () => {
    expect(lockedText({ ok: false, scope: "person", retryInMs: 61_000 })).toMatch(/from you.*2 minutes/);
    expect(lockedText({ ok: false, scope: "global", retryInMs: 1 })).toMatch(
      /paused for everyone.*1 minute\./,
    );
  });
});
