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
  it("replaces the placeholder by the real value", async () => {
    expect(swap(`Bearer ${P}`, B)).toBe(`Bearer ${REAL}`);
  });
  it("swaps inside Basic credentials and re-encodes them", async () => {
    const out = swap(`Basic ${Buffer.from(`x-access-token:${P}`).toString("base64")}`, B);
    expect(Buffer.from(out.slice(6), "base64").toString()).toBe(`x-access-token:${REAL}`);
  });
  it("leaves text without bindings untouched", async () => {
    expect(swap(`Bearer ${P}`, [])).toBe(`Bearer ${P}`);
  });
});

describe("scrub() and mask()", () => {
  it("replaces an echoed real value by the placeholder", async () => {
    expect(scrub(`you sent ${REAL}!`, B)).toBe(`you sent ${P}!`);
  });
  it("masks real values and placeholders in previews", async () => {
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
  it("holds back nothing when a chunk cannot start a secret, so SSE events flow at once", async () => {
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

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const urlB64 = (s: string): string => Buffer.from(s).toString("base64url");
const jsonAll = (s: string): string =>
  [...s.split("")].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()}`).join("");
const fullPercent = (s: string, lower = false): string =>
  [...Buffer.from(s)]
    .map((b) => `%${b.toString(16).padStart(2, "0")[lower ? "toLowerCase" : "toUpperCase"]()}`)
    .join("");

describe("scrub(): every form of the value", () => {
  const SPECIAL = 'sk "live"/é ✓ 😀+&=';
  const PS = `wdn_${"c".repeat(40)}`;
  const BS: Binding[] = [...B, { placeholder: PS, value: new Secret(SPECIAL) }];
  it.each([
    ["literal", REAL, P],
    ["encodeURIComponent", encodeURIComponent(SPECIAL), PS],
    ["full percent-encoding, upper hex", fullPercent(SPECIAL), PS],
    ["full percent-encoding, lower hex", fullPercent(SPECIAL, true), PS],
    ["form encoding (+ for space)", new URLSearchParams({ k: SPECIAL }).toString().slice(2), PS],
    ["JSON.stringify", JSON.stringify(SPECIAL).slice(1, -1), PS],
    ["JSON, every character \\u-escaped", jsonAll(SPECIAL), PS],
    ["JSON, lowercase \\u hex", jsonAll(SPECIAL).toLowerCase().replace(/\\u/g, "\\u"), PS],
    ["base64 alone", b64(REAL), b64(P)],
    ["base64url alone, unpadded", urlB64(REAL), urlB64(P)],
    ["the Basic pair (offset 2)", b64(`user:${REAL}`), b64(`user:${P}`)],
    ["a Basic pair at offset 1", b64(`x-access-token:${REAL}`), b64(`x-access-token:${P}`)],
    ["a Basic pair at offset 0", b64(`abc${REAL}`), b64(`abc${P}`)],
  ])("replaces the %s form", (_why, form, want) => {
    const bytes = (s: string): string => Buffer.from(s, "utf8").toString("latin1");
    expect(scrub(bytes(`<${form}>`), BS)).toBe(`<${want}>`);
  });

  it("replaces the latin1 form (how Node writes a header value holding non-ASCII characters)", async () => {
    expect(scrub(`<${Buffer.from(SPECIAL, "latin1").toString("latin1")}>`, BS)).toBe(`<${PS}>`);
  });

  it("re-encodes a url-safe pair (standard alphabet, padded, when the match cannot tell)", async () => {
    const out = scrub(`<${urlB64(`ab:${SPECIAL}`)}>`, BS);
    expect(Buffer.from(out.slice(1, -1), "base64url").toString()).toBe(`ab:${PS}`);
  });

  it.each([0, 1, 2, 3, 4, 5])("hides the value inside a longer base64 string at offset %i", (k) => {
    const enc = b64(`${"z".repeat(k)}${REAL} and then some more bytes`);
    const out = Buffer.from(scrub(enc, B), "base64").toString("latin1");
    expect(out).not.toContain(REAL);
    expect(out).not.toContain(REAL.slice(0, -1));
    expect(out).toContain(P.slice(2, -2));
  });

  it("leaves base64 of other data and short values alone", async () => {
    const short: Binding[] = [{ placeholder: P, value: new Secret("abc") }];
    const text = b64("abcabcabc unrelated");
    expect(scrub(text, short)).toBe(text);
    expect(scrub("xx abc yy", short)).toBe(`xx ${P} yy`);
  });

  it("replaces the longer of two overlapping values whole", async () => {
    const both: Binding[] = [
      { placeholder: P, value: new Secret("tokenAB") },
      { placeholder: OTHER, value: new Secret("tokenABCDEF") },
    ];
    expect(scrub("[tokenABCDEF] [tokenAB]", both)).toBe(`[${OTHER}] [${P}]`);
  });

  it("drops a value found inside its own placeholder rather than loop or leak", async () => {
    const inside: Binding[] = [{ placeholder: P, value: new Secret("aaaaaaa") }];
    expect(scrub("x aaaaaaa y", inside)).toBe("");
  });
});

describe("createScrubber() against a brute-force oracle", () => {
  const VALUES = ["ghp_RealValue123", "tok en/é+=", "ghp_RealValue123XYZ"];
  const PH = VALUES.map((_, i) => `wdn_${String(i).repeat(40)}`);
  const BIND: Binding[] = VALUES.map((v, i) => ({ placeholder: PH[i] as string, value: new Secret(v) }));
  const FORMS: ((v: string) => string)[] = [
    (v) => v,
    (v) => encodeURIComponent(v),
    (v) => fullPercent(v, true),
    (v) => JSON.stringify(v).slice(1, -1),
    (v) => jsonAll(v),
    (v) => b64(`user:${v}`),
    (v) => b64(`ab:${v}`),
  ];
  // Seeded PRNG so a failure can be replayed.
  let seed = 1234567;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };

  /** A random text of filler, decoys (cut-off values) and forms, with what the agent must see. */
  function sample(): { text: string; want: string } {
    let text = "";
    let want = "";
    for (let i = 0; i < 12; i++) {
      const v = rnd(VALUES.length);
      const value = VALUES[v] as string;
      const f = rnd(FORMS.length);
      const kind = rnd(3);
      if (kind === 0) {
        const filler = "data: x\n\n ".slice(rnd(5));
        text += filler;
        want += filler;
      } else if (kind === 1) {
        // A cut-off value (shorter than the shortest value, so it holds none whole).
        const decoy = `${value.slice(0, 1 + rnd(Math.min(value.length, 10) - 1))}\n`;
        text += decoy;
        want += decoy;
      } else {
        const form = (FORMS[f] as (s: string) => string)(value);
        // Base64 forms end at a separator, as an encoded string does.
        text += `${form}\n`;
        const ph = PH[v] as string;
        want += `${f === 5 ? b64(`user:${ph}`) : f === 6 ? b64(`ab:${ph}`) : ph}\n`;
      }
    }
    return { text: Buffer.from(text, "utf8").toString("latin1"), want: Buffer.from(want).toString("latin1") };
  }

  it("streams exactly the oracle's output for random chunkings, and each chunk as soon as it can", async () => {
    for (let round = 0; round < 60; round++) {
      const { text, want } = sample();
      expect(scrub(text, BIND)).toBe(want);
      const bytes = Buffer.from(text, "latin1");
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + rnd(round % 3 === 0 ? 3 : 40);
        chunks.push(bytes.subarray(at, at + n));
        at += n;
      }
      const pieces: Buffer[] = [];
      for await (const c of Readable.from(chunks).pipe(createScrubber(BIND))) pieces.push(c as Buffer);
      expect(Buffer.concat(pieces).toString("latin1")).toBe(want);
    }
  });

  it("releases an SSE event before the next one is written, whatever precedes it", async () => {
    const s = createScrubber(BIND);
    for (const event of ["data: ghp_Real", `Value123\n\n`, `data: ${b64("user:ghp_RealValue123")}\n\n`]) {
      s.write(Buffer.from(event));
    }
    const got = (s.read() as Buffer).toString();
    expect(got).toBe(`data: ${PH[0]}\n\ndata: ${b64(`user:${PH[0]}`)}\n\n`);
  });
});
