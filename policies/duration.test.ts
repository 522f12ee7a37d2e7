import { describe, expect, it } from "vitest";
import { parseDuration, parseRate } from "./duration.js";

describe("parseDuration()", () => {
  // biome-ignore format: a table reads best one row per line
  it.each([
    ["30s",         30_000],
    ["15m",         900_000],
    ["2h",          7_200_000],
    ["1d",          86_400_000],
    ["999999999s",  999_999_999_000],
  ] as const)("parses %s", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  // biome-ignore format: a table reads best one row per line
  it.each([
    // why                                text
    ["zero would mean 'expire at once'",  "0s"],
    ["leading zero looks like a typo",    "05m"],
    ["no unit",                           "30"],
    ["unit only",                         "m"],
    ["compound durations",                "1h30m"],
    ["fractions",                         "1.5h"],
    ["negative",                          "-5m"],
    ["whitespace around",                 " 5m"],
    ["whitespace inside",                 "5 m"],
    ["upper-case unit",                   "5M"],
    ["long unit names",                   "5min"],
    ["weeks are not a unit",              "1w"],
    ["too many digits",                   "1234567890s"],
    ["beyond exact integers",             "999999999d"],
    ["empty",                             ""],
    ["trailing newline",                  "5m\n"],
  ] as const)("rejects %s (%j)", (_why, text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("parseRate()", () => {
  // biome-ignore format: a table reads best one row per line
  it.each([
    ["10/s",     { count: 10, perMs: 1_000 }],
    ["120/min",  { count: 120, perMs: 60_000 }],
    ["1000/h",   { count: 1000, perMs: 3_600_000 }],
  ] as const)("parses %s", (text, rate) => {
    expect(parseRate(text)).toEqual(rate);
  });

  // biome-ignore format: a table reads best one row per line
  it.each([
    ["m is ambiguous (minute or month)",  "120/m"],
    ["long unit",                         "120/minute"],
    ["days are not a rate unit",          "5/d"],
    ["zero",                              "0/s"],
    ["spaces",                            "120 / min"],
    ["missing count",                     "/min"],
    ["missing unit",                      "120"],
    ["a duration is not a rate",          "15m"],
    ["fraction",                          "1.5/s"],
  ] as const)("rejects %s (%j)", (_why, text) => {
    expect(parseRate(text)).toBeUndefined();
  });
});
