import { format, inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { Secret } from "./secret.js";

const VALUE = "sk-live-hunter2-0123456789";

describe("Secret", () => {
  const s = new Secret(VALUE);

  it("reveal() returns the wrapped value", async () => {
    expect(s.reveal()).toBe(VALUE);
  });

  it.each([
    // why                                       how it is printed
    ["String() conversion", () => String(s)],
    ["template literal", () => `token=${s}`],
    // biome-ignore lint/style/useTemplate: the + operator (ToPrimitive, hint "default") is what is tested
    ["plus operator uses toPrimitive", () => "token=" + (s as unknown as string)],
    ["JSON.stringify of a holder", () => JSON.stringify({ s })],
    ["JSON.stringify nested in arrays", () => JSON.stringify([{ deep: [s] }])],
    ["util.inspect", () => inspect(s)],
    ["util.inspect with showHidden", () => inspect(s, { showHidden: true, depth: 10 })],
    [
      "util.inspect without custom inspectors",
      () => inspect({ s }, { customInspect: false, showHidden: true }),
    ],
    ["console.log-style %s", () => format("%s", s)],
    ["console.log-style %o", () => format("%o", { s })],
    ["console.log-style %O", () => format("%O", s)],
    ["console.log-style %j", () => format("%j", { s })],
    ["console.log with bare arguments", () => format("value", s, { s })],
    ["Error message built from it", () => new Error(`bad token ${s}`).message],
    ["Object.entries/spread", () => JSON.stringify({ ...s, keys: Object.keys(s) })],
  ] as const)("never prints the value via %s", (_why, print) => {
    const out = print();
    expect(out).not.toContain(VALUE);
    expect(out).not.toContain("hunter2");
  });

  it("prints as [secret]", async () => {
    expect(String(s)).toBe("[secret]");
    expect(JSON.stringify({ s })).toBe('{"s":"[secret]"}');
    expect(inspect(s)).toBe("[secret]");
  });
});
