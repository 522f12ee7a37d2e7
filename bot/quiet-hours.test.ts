import { describe, expect, it } from "vitest";
import {
  describeQuiet,
  isQuiet,
  parseQuiet,
  type QuietHours,
  quietEndsAt,
  validTimeZone,
} from "./quiet-hours.js";

const at = (iso: string): number => Date.parse(iso);

describe("parseQuiet", () => {
  // biome-ignore format: a table reads best one row per line
  it.each([
    ["",                               { kind: "show" }],
    ["off",                            { kind: "off" }],
    ["OFF",                            { kind: "off" }],
    ["22:00-07:00",                    { kind: "set", start: 1320, end: 420 }],
    ["9:30-17:05",                     { kind: "set", start: 570, end: 1025 }],
    ["22:00-07:00 tz=Europe/Berlin",   { kind: "set", start: 1320, end: 420, tz: "Europe/Berlin" }],
    ["22:00-07:00 TZ=america/new_york", { kind: "set", start: 1320, end: 420, tz: "America/New_York" }],
    ["22:00-07:00 tz=Mars/Olympus",    { kind: "invalid" }],
    ["22:00-07:00 tz=../../etc/passwd", { kind: "invalid" }],
    ["22:00-07:00 Europe/Berlin",      { kind: "invalid" }],
    ["24:00-07:00",                    { kind: "invalid" }],
    ["22:60-07:00",                    { kind: "invalid" }],
    ["22-7",                           { kind: "invalid" }],
    ["22:00-07:00-08:00",              { kind: "invalid" }],
    ["07:00-07:00",                    { kind: "invalid" }],
    ["22:00-07:00 tz=UTC extra",       { kind: "invalid" }],
  ])("%j", (text, want) => {
    expect(parseQuiet(text)).toMatchObject(want);
  });

  it("time zones: canonical names only, bounded", () => {
    expect(validTimeZone("Europe/Berlin")).toBe("Europe/Berlin");
    expect(validTimeZone("UTC")).toBe("UTC");
    expect(validTimeZone("x".repeat(200))).toBeUndefined();
    expect(validTimeZone("Europe/Berlin\n")).toBeUndefined();
  });
});

describe("isQuiet and quietEndsAt", () => {
  const night: QuietHours = { start: 22 * 60, end: 7 * 60, tz: "Europe/Berlin" };
  const day: QuietHours = { start: 9 * 60, end: 17 * 60, tz: "UTC" };

  it("spans midnight on the person's clock (Berlin is UTC+1 in winter)", () => {
    expect(isQuiet(at("2030-01-01T20:59:00Z"), night)).toBe(false); // 21:59 local
    expect(isQuiet(at("2030-01-01T21:00:00Z"), night)).toBe(true); // 22:00 local
    expect(isQuiet(at("2030-01-02T05:59:00Z"), night)).toBe(true); // 06:59 local
    expect(isQuiet(at("2030-01-02T06:00:00Z"), night)).toBe(false); // 07:00 local
    expect(quietEndsAt(at("2030-01-01T23:30:00Z"), night)).toBe(at("2030-01-02T06:00:00Z"));
    expect(describeQuiet(night)).toBe("22:00-07:00 (Europe/Berlin)");
  });

  it("a daytime window without midnight", () => {
    expect(isQuiet(at("2030-01-01T08:59:59Z"), day)).toBe(false);
    expect(isQuiet(at("2030-01-01T09:00:00Z"), day)).toBe(true);
    expect(isQuiet(at("2030-01-01T17:00:00Z"), day)).toBe(false);
    expect(quietEndsAt(at("2030-01-01T12:34:56Z"), day)).toBe(at("2030-01-01T17:00:00Z"));
  });

  it("DST: the night the clocks go forward (Berlin, 2030-03-31) ends at 07:00 local summer time", () => {
    // 23:00 local (UTC+1) on the 30th; 07:00 local on the 31st is 05:00Z (UTC+2): 6 real hours.
    expect(quietEndsAt(at("2030-03-30T22:00:00Z"), night)).toBe(at("2030-03-31T05:00:00Z"));
    expect(isQuiet(at("2030-03-31T04:59:00Z"), night)).toBe(true);
    expect(isQuiet(at("2030-03-31T05:00:00Z"), night)).toBe(false);
  });

  it("DST: the night the clocks go back (Berlin, 2030-10-27) ends at 07:00 local winter time", () => {
    expect(quietEndsAt(at("2030-10-26T21:00:00Z"), night)).toBe(at("2030-10-27T06:00:00Z"));
    expect(isQuiet(at("2030-10-27T05:30:00Z"), night)).toBe(true); // 06:30 local
  });

  it("never in the past: at the end minute itself it is the next day's end", () => {
    const t = at("2030-01-02T06:00:30Z"); // 07:00:30 local
    expect(quietEndsAt(t, night)).toBe(at("2030-01-03T06:00:00Z"));
    expect(quietEndsAt(at("2030-01-02T06:00:00Z"), night)).toBe(at("2030-01-02T06:00:00Z"));
  });
});
