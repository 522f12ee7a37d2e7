import { describe, expect, it } from "vitest";
import { parseCommand } from "./router.js";

describe("parseCommand()", () => {
  // biome-ignore format: a table reads best one row per line
  it.each([
    // why                                  text                                  expected
    ["plain command",                        "/help",                              { ok: true, name: "help", args: [], body: "" }],
    ["args split on whitespace",             "/agent  start   demo claude",        { ok: true, name: "agent", args: ["start", "demo", "claude"] }],
    ["addressed to us",                      "/help@Warden_Bot",                   { ok: true, name: "help" }],
    ["addressed to another bot",             "/help@other_bot",                    { ok: false, reason: "other_bot" }],
    ["body after the first line",            "/policy edit x\nhosts: []\n",        { ok: true, args: ["edit", "x"], body: "hosts: []\n" }],
    ["upper case folds",                     "/HELP",                              { ok: true, name: "help" }],
    ["not a command",                        "hello /help",                        { ok: false, reason: "not_a_command" }],
    ["slash alone",                          "/",                                  { ok: false, reason: "not_a_command" }],
    ["path-like text",                       "/etc/passwd",                        { ok: false, reason: "not_a_command" }],
    ["overlong command name",                `/${"a".repeat(40)}`,                 { ok: false, reason: "not_a_command" }],
  ])("%s", (_why, text, expected) => {
    expect(parseCommand(text, "warden_bot")).toMatchObject(expected);
  });
});
