import { describe, expect, it } from "vitest";
import { describeHeld, fingerprint, headersDigest, heldRequestView, nameSecrets } from "./held-request.js";
import type { Binding } from "./inject.js";
import { prettyJson } from "./pretty-json.js";
import { Secret } from "./secret.js";

const P = `wdn_${"a".repeat(40)}`;
const OTHER = `wdn_${"b".repeat(40)}`;
const REAL = "ghp_RealValue123";
const B: Binding[] = [{ placeholder: P, value: new Secret(REAL) }];
const MINE = new Map([[P, "GITHUB_TOKEN"]]);

type H = [string, string][];
const BASE: H = [
  ["Content-Type", "application/json"],
  ["Authorization", `Bearer ${P}`],
  ["Accept", "a"],
  ["Accept", "b"],
];

describe("headersDigest(): what joins a pending approval", () => {
  const d = headersDigest(BASE);
  it.each<[string, H]>([
    ["a header added", [...BASE, ["X-Extra", "1"]]],
    ["a header removed", BASE.slice(1)],
    ["a value changed", BASE.map(([n, v]) => [n, n === "Accept" && v === "b" ? "c" : v])],
    ["the case of a value changed", BASE.map(([n, v]) => [n, n === "Content-Type" ? "Application/JSON" : v])],
    ["a header duplicated", [...BASE, ["Authorization", `Bearer ${P}`]]],
    ["repeated headers reordered", [BASE[0], BASE[1], BASE[3], BASE[2]] as H],
    ["a value with trailing space", BASE.map(([n, v]) => [n, n === "Accept" && v === "a" ? "a " : v])],
  ])("differs when %s", (_, h) => {
    expect(headersDigest(h)).not.toBe(d);
  });

  it.each<[string, H]>([
    ["names in another case", BASE.map(([n, v]) => [n.toUpperCase(), v])],
    ["different names in another order", [BASE[1], BASE[0], BASE[2], BASE[3]] as H],
    ["a Host header (the gateway sets it from the URL)", [...BASE, ["Host", "evil.test"]]],
    ["a Content-Length (recomputed; the body digest covers it)", [...BASE, ["content-length", "9"]]],
  ])("is equal with %s", (_, h) => {
    expect(headersDigest(h)).toBe(d);
  });

  it("is part of the fingerprint, with agent, method, URL and body digest", async () => {
    const f = fingerprint("a", "POST", "https://x.test/p", BASE, "00");
    expect(fingerprint("a", "POST", "https://x.test/p", [...BASE, ["X", "1"]], "00")).not.toBe(f);
    expect(fingerprint("b", "POST", "https://x.test/p", BASE, "00")).not.toBe(f);
    expect(fingerprint("a", "PUT", "https://x.test/p", BASE, "00")).not.toBe(f);
    expect(fingerprint("a", "POST", "https://x.test/q", BASE, "00")).not.toBe(f);
    expect(fingerprint("a", "POST", "https://x.test/p", BASE, "01")).not.toBe(f);
  });
});

const held = (body: string | Buffer, headers: H = BASE, pathAndQuery = "/p") =>
  describeHeld({
    agent: "a",
    method: "POST",
    url: `https://x.test${pathAndQuery}`,
    headers,
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    placeholders: MINE,
    bindings: B,
  });

describe("describeHeld(): honest card facts", () => {
  it("pretty-prints JSON with 2 spaces and masks placeholders and real values", async () => {
    const f = held(`{"token":"${P}","echo":"${REAL}","n":[1,2]}`);
    expect(f.bodyPreview).toBe('{\n  "token": "•••",\n  "echo": "•••",\n  "n": [\n    1,\n    2\n  ]\n}');
    expect(f.bodyHidden).toBe(0);
    expect(f.bodyBytes).toBeGreaterThan(0);
    expect(f.contentType).toBe("application/json");
    expect(f.contentEncoding).toBeNull();
  });

  it("says how many characters the 2000-character preview leaves out", async () => {
    const f = held(JSON.stringify({ text: "x".repeat(5000) }));
    expect(f.bodyPreview).toHaveLength(2000);
    expect(f.bodyHidden).toBe(JSON.stringify({ text: "x".repeat(5000) }, null, 2).length - 2000);
  });

  it("describes binary and encoded bodies instead of showing them", async () => {
    const bin = held(Buffer.from([0xff, 0xfe, 0, 1]), [["Content-Type", "application/octet-stream"]]);
    expect(bin.bodyPreview).toBe("4 bytes of application/octet-stream, not shown");
    expect(bin.bodyHidden).toBe(4);
    const gz = held("abc", [
      ["Content-Type", "application/json"],
      ["Content-Encoding", "gzip"],
    ]);
    expect(gz.bodyPreview).toBe("3 bytes of application/json, gzip-encoded, not shown");
    expect(gz.contentEncoding).toBe("gzip");
  });

  // Where secrets are carried is computed once, by policies/secret-places.ts (its own tests).
  it("names a secret inside Basic credentials in the stored headers", async () => {
    const basic = `Basic ${Buffer.from(`x:${P}`).toString("base64")}`;
    const f = held("", [["Proxy-Thing", basic]], `/p?key=${P}`);
    expect(f.headers).toEqual([["Proxy-Thing", "Basic base64(x:[secret GITHUB_TOKEN])"]]);
  });

  it("never puts a real value or placeholder in the stored headers", async () => {
    const f = held("", [
      ["Authorization", `Bearer ${P}`],
      ["X-Echo", REAL],
      ["X-Other", OTHER],
    ]);
    expect(JSON.stringify(f)).not.toContain(REAL);
    expect(JSON.stringify(f)).not.toContain(P);
    expect(f.headers).toEqual([
      ["Authorization", "Bearer [secret GITHUB_TOKEN]"],
      ["X-Echo", "[secret GITHUB_TOKEN]"],
      ["X-Other", "[secret unknown]"],
    ]);
  });
});

describe("prettyJson(): a card shows what is sent", () => {
  it("keeps duplicate keys and exact numbers that JSON.parse would lose", async () => {
    expect(prettyJson('{"amount":1,"amount":100000000000000000001}')).toBe(
      '{\n  "amount": 1,\n  "amount": 100000000000000000001\n}',
    );
  });
  it("decodes escapes but keeps bidi overrides and control characters escaped", async () => {
    expect(prettyJson('["\\u0064elete","a\\u202eb","\\u0000"]')).toBe(
      '[\n  "delete",\n  "a\\u202eb",\n  "\\u0000"\n]',
    );
  });
  it("keeps empty containers compact and refuses invalid JSON", async () => {
    expect(prettyJson('{"a":{},"b":[ ]}')).toBe('{\n  "a": {},\n  "b": []\n}');
    expect(prettyJson("{nope")).toBeUndefined();
  });
});

describe("heldRequestView()", () => {
  it("names secrets in URL, headers and body; non-UTF-8 bodies come as base64", async () => {
    const rec = { id: "i", method: "POST", url: `https://x.test/?k=${P}`, headers: [["A", "b"]] as H };
    const v = heldRequestView(rec, Buffer.from(`t=${P}&e=${REAL}`), MINE, B);
    expect(v).toMatchObject({
      url: "https://x.test/?k=[secret GITHUB_TOKEN]",
      body: "t=[secret GITHUB_TOKEN]&e=[secret GITHUB_TOKEN]",
      bodyEncoding: "utf8",
    });
    const bin = heldRequestView(rec, Buffer.concat([Buffer.from([0xff]), Buffer.from(P)]), MINE, B);
    expect(bin.bodyEncoding).toBe("base64");
    expect(Buffer.from(bin.body ?? "", "base64").toString("latin1")).toBe("\xff[secret GITHUB_TOKEN]");
    expect(heldRequestView(rec, null, MINE, B)).toMatchObject({ body: null, bodyEncoding: null });
  });

  it("nameSecrets leaves text without secrets alone", async () => {
    expect(nameSecrets("Basic Zm9vOmJhcg==", MINE, B)).toBe("Basic Zm9vOmJhcg==");
  });
});
