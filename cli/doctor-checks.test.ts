/**
 * Unit tests of the doctor's pure parts: the Node version against `engines.node` (an old Node
 * cannot be run in the e2e tests) and the report line format (no terminal control sequences from
 * names or messages found in the home).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatCheck } from "./doctor.js";
import { checkNode } from "./doctor-checks.js";

let repo: string;
const withEngines = async (node: unknown): Promise<string> => {
  await writeFile(join(repo, "package.json"), JSON.stringify({ engines: { node } }));
  return repo;
};

beforeAll(async () => {
  repo = await mkdtemp(join(tmpdir(), "warden-doctor-node-"));
});
afterAll(async () => {
  await rm(repo, { recursive: true, force: true });
});

describe("checkNode", () => {
  it.each([
    [">=20.10", "20.10.0", "ok"],
    [">=20.10", "20.20.2", "ok"],
    [">=20.10", "22.1.0", "ok"],
    [">=20.10", "20.9.9", "fail"],
    [">=20.10", "18.19.0", "fail"],
    [">=20.10.3", "20.10.2", "fail"],
    [">= 20", "20.0.0", "ok"],
  ])("engines %s with Node %s → %s", async (range, version, status) => {
    const c = await checkNode(await withEngines(range), version);
    expect(c.status).toBe(status);
    if (status === "fail") expect(c.fix).toMatch(/install Node/);
  });

  it("an engines range it cannot read warns instead of guessing", async () => {
    expect((await checkNode(await withEngines("^20 || ^22"), "20.10.0")).status).toBe("warn");
    expect((await checkNode(await withEngines(42), "20.10.0")).status).toBe("warn");
    expect((await checkNode(join(repo, "missing"), "20.10.0")).status).toBe("warn");
  });
});

describe("formatCheck", () => {
  it("one labelled line, the fix indented below it", () => {
    expect(
      formatCheck({
        status: "fail",
        item: "master key",
        message: "/h/master.key is readable",
        fix: "chmod 600 /h/master.key",
      }),
    ).toBe("FAIL  master key: /h/master.key is readable\n        → chmod 600 /h/master.key\n");
    expect(formatCheck({ status: "ok", item: "node", message: "v20" })).toBe("ok    node: v20\n");
  });

  it("control characters from file names or messages are replaced, never sent to the terminal", () => {
    const line = formatCheck({ status: "fail", item: "policies", message: "bad\u001b[2J\u0007.yaml:1: x\r" });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for control characters.
    expect(line).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(line).toContain("bad?[2J?.yaml:1: x?");
  });
});
