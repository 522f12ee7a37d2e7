import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { type Binding, createScrubber, findPlaceholders, mask, scrub, swap } from "./inject.js";
import { Secret } from "./secret.js";

const P = `wdn_${"a".repeat(40)}`;
const OTHER = `wdn_${"b".repeat(40)}`;
const REAL = "ghp_RealValue123";
const B: Binding[] = [{ placeholder: P, value: new Secret(REAL) }];
const MINE = new Map([[P, "GITHUB_TOKEN"]]);

async function through(chunks: string[]): Promise<{ out: string; pieces: string[] }> {
  const pieces: string[] = [];
  const s = Readable.from(chunks.map((c) => Buffer.from(c))).pipe(createScrubber(B));
  for await (const c of s) pieces.push((c as Buffer).toString());
  return { out: pieces.join(""), pieces };
}

describe("findPlaceholders()", () => {
  it.each([
    ["in a header value", [`token ${P}`], ["GITHUB_TOKEN"]],
    ["in a query string", [`/x?k=${P}`], ["GITHUB_TOKEN"]],
    [
      "hidden inside Basic credentials",
      [`Basic ${Buffer.from(`x:${P}`).toString("base64")}`],
      ["GITHUB_TOKEN"],
    ],
    ["another agent's placeholder is not ours", [`token ${OTHER}`], []],
    ["nothing there", ["plain"], []],
  ])("finds a placeholder %s", (_why, texts, names) => {
    expect([...findPlaceholders(texts, MINE)]).toEqual(names);
  });
});

describe("swap()", () => {
  it("replaces the placeholder by the real value", () => {
    expect(swap(`Bearer ${P}`, B)).toBe(`Bearer ${REAL}`);
  });
  it("swaps inside Basic credentials and re-encodes them", () => {
    const out = swap(`Basic ${Buffer.from(`x-access-token:${P}`).toString("base64")}`, B);
    expect(Buffer.from(out.slice(6), "base64").toString()).toBe(`x-access-token:${REAL}`);
  });
  it("leaves text without bindings untouched", () => {
    expect(swap(`Bearer ${P}`, [])).toBe(`Bearer ${P}`);
  });
});

describe("scrub() and mask()", () => {
  it("replaces an echoed real value by the placeholder", () => {
    expect(scrub(`you sent ${REAL}!`, B)).toBe(`you sent ${P}!`);
  });
  it("masks real values and placeholders in previews", () => {
    expect(mask(`a ${REAL} b ${P}`, B)).toBe("a ••• b •••");
  });
});

describe("createScrubber()", () => {
  it("scrubs a real value split across chunks", async () => {
    const { out } = await through(["xx ghp_Re", "alVal", "ue123 yy"]);
    expect(out).toBe(`xx ${P} yy`);
    expect(out).not.toContain(REAL);
  });
  it("scrubs a value split one byte per chunk", async () => {
    const { out } = await through([...`<${REAL}>`]);
    expect(out).toBe(`<${P}>`);
  });
  it("holds back nothing when a chunk cannot start a secret, so SSE events flow at once", () => {
    const s = createScrubber(B);
    s.write(Buffer.from("data: 1\n\n"));
    expect((s.read() as Buffer).toString()).toBe("data: 1\n\n");
    s.write(Buffer.from("data: ghp_Re"));
    expect((s.read() as Buffer).toString()).toBe("data: "); // only the possible secret start waits
  });
  it("flushes a held prefix that turned out not to be a secret", async () => {
    const { out } = await through(["end ghp_"]);
    expect(out).toBe("end ghp_");
  });
  it("keeps binary bytes intact", async () => {
    const bytes = Buffer.from([0, 255, 128, 10, 200]);
    const pieces: Buffer[] = [];
    for await (const c of Readable.from([bytes]).pipe(createScrubber(B))) pieces.push(c as Buffer);
    expect(Buffer.concat(pieces).equals(bytes)).toBe(true);
  });
});
