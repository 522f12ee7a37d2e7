import { describe, expect, it } from "vitest";
import { type CanonicalBody, canonicalBody, foldForMatch, parseContentType } from "./canonical-body.js";
import { MAX_JSON_DEPTH, parseJsonStrict } from "./strict-json.js";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const read = (
  body: string | Uint8Array,
  type?: string | string[],
  encoding?: string | string[],
): CanonicalBody => canonicalBody(typeof body === "string" ? utf8(body) : body, type, encoding);
const readings = (c: CanonicalBody): readonly string[] => (c.kind === "readable" ? c.readings : []);
const utf16le = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    out[2 * i] = s.charCodeAt(i) & 0xff;
    out[2 * i + 1] = s.charCodeAt(i) >> 8;
  }
  return out;
};

describe("canonicalBody() decodes what an upstream would act on", () => {
  // biome-ignore format: a table reads best one row per line
  it.each<[string, string | Uint8Array, string | undefined, string]>([
    // why                                       body                                                   content-type                                   a reading contains
    ["JSON \\u escape in a value",               '{"t":"wire\\u002dtransfer"}',                         "application/json",                            '"t":"wire-transfer"'],
    ["JSON escaped solidus",                     '{"u":"a\\/b"}',                                      "application/json",                            '"u":"a/b"'],
    ["JSON escapes in a key",                    '{"\\u0071uery":"x"}',                                "application/json",                            '"query":"x"'],
    ["JSON surrogate pair",                      '{"e":"\\ud83d\\ude00 ok"}',                          "application/json",                            "\u{1F600} ok"],
    ["JSON whitespace is not significant",       '{ "type" :\n "wire" }',                              "application/json",                            '"type":"wire"'],
    ["+json media types are JSON",               '{"a":"\\u006dutation"}',                             "application/vnd.api+json; charset=utf-8",     "mutation"],
    ["no type, JSON is the plausible reading",   '{"a":"\\u006dutation"}',                             undefined,                                     "mutation"],
    ["text/plain that is JSON is read both ways", '{"a":"\\u006dutation"}',                            "text/plain",                                  "mutation"],
    ["form: percent-decoded, + is a space",      "q=wire%2Dtransfer+now&k%65y=v",                       "application/x-www-form-urlencoded",            "q=wire-transfer now&key=v"],
    ["form: UTF-8 escapes",                      "q=caf%C3%A9",                                        "application/x-www-form-urlencoded",            "café"],
    ["text in its declared charset",             new Uint8Array([0x63, 0x61, 0x66, 0xe9]),             "text/plain; charset=iso-8859-1",              "café"],
    ["UTF-16LE with BOM, declared",              new Uint8Array([0xff, 0xfe, ...utf16le("mutation")]), "text/plain; charset=utf-16le",                "mutation"],
    ["UTF-16LE JSON, declared",                  utf16le('{"a":"mutation"}'),                          "application/json; charset=utf-16le",          "mutation"],
    ["UTF-8 BOM before JSON is ignored",         new Uint8Array([0xef, 0xbb, 0xbf, ...utf8('{"a":"x"}')]), "application/json",                        '"a":"x"'],
    ["case folds",                               "WIRE-Transfer",                                       "text/plain",                                  "wire-transfer"],
    ["fullwidth look-alikes fold (NFKC)",        "\uff4dutation",                                       "text/plain",                                  "mutation"],
    ["soft hyphen and zero-width are dropped",   "mu\u00adta\u200btion",                                "text/plain",                                  "mutation"],
    ["long s folds to s",                        "\u017fubscription",                                   "text/plain",                                  "subscription"],
  ])("%s", (_why, body, type, needle) => {
    const c = read(body, type);
    expect(c.kind).toBe("readable");
    expect(readings(c).some((r) => r.includes(needle))).toBe(true);
  });

  // biome-ignore format: a table reads best one row per line
  it.each<[string, string | Uint8Array, string | string[] | undefined, string | string[] | undefined]>([
    // why                                        body                                      content-type                                content-encoding
    ["gzip",                                      "x",                                      "text/plain",                               "gzip"],
    ["any encoding but identity",                 "x",                                      "text/plain",                               "br"],
    ["two content-encodings",                     "x",                                      "text/plain",                               ["identity", "gzip"]],
    ["two different content-types",               "{}",                                     ["application/json", "text/plain"],         undefined],
    ["invalid JSON for a JSON type",              '{"a":',                                  "application/json",                         undefined],
    ["duplicate JSON keys",                       '{"q":"a","q":"mutation"}',               "application/json",                         undefined],
    ["duplicate keys hidden by escapes",          '{"q":"a","\\u0071":"mutation"}',         "application/json",                         undefined],
    ["duplicate keys nested",                     '[{"a":{"b":1,"b":2}}]',                  "application/json",                         undefined],
    ["lone high surrogate",                       '{"a":"\\ud800"}',                        "application/json",                         undefined],
    ["lone low surrogate",                        '{"a":"x\\udc00"}',                       "application/json",                         undefined],
    ["JSON nested absurdly deep",                 `${"[".repeat(MAX_JSON_DEPTH + 1)}${"]".repeat(MAX_JSON_DEPTH + 1)}`, "application/json", undefined],
    ["unknown charset",                           "x",                                      "text/plain; charset=x-klingon",            undefined],
    ["two charsets",                              "x",                                      "text/plain; charset=utf-8; charset=latin1", undefined],
    ["invalid UTF-8 bytes",                       new Uint8Array([0x6d, 0xff, 0x75]),       "text/plain; charset=utf-8",                undefined],
    ["UTF-16 BOM but declared UTF-8",             new Uint8Array([0xff, 0xfe, 0x6d, 0x00]), "text/plain; charset=utf-8",                undefined],
    ["UTF-8 BOM but declared UTF-16LE",           new Uint8Array([0xef, 0xbb, 0xbf, 0x6d]), "text/plain; charset=utf-16le",             undefined],
    ["multipart",                                 "--b\r\n\r\nmutation\r\n--b--",           "multipart/form-data; boundary=b",          undefined],
    ["binary type",                               "mutation",                               "application/octet-stream",                 undefined],
    ["malformed content-type",                    "x",                                      "text/plain; garbage",                      undefined],
    ["form with a bad escape",                    "q=%zz",                                  "application/x-www-form-urlencoded",        undefined],
    ["form with a non-UTF-8 escape",              "q=%ff",                                  "application/x-www-form-urlencoded",        undefined],
    ["text/plain that looks like JSON but is ambiguous", '{"a":1,"a":2}',                   "text/plain",                               undefined],
  ])("unreadable: %s", (_why, body, type, encoding) => {
    expect(read(body, type, encoding).kind).toBe("unreadable");
  });

  it("an empty body is empty, whatever its type", () => {
    expect(read("", "application/octet-stream", "gzip")).toEqual({ kind: "empty" });
  });

  it("keeps the literal reading next to the folded one (allow rules need the literal text)", () => {
    const c = read("\uff52elease", "text/plain");
    expect(readings(c)).toContain("\uff52elease");
    expect(readings(c)).toContain("release");
  });

  it("exposes the parsed JSON and form pairs for GraphQL and _method", () => {
    const json = read('[{"query":"{a}"}]', "application/json");
    expect(json.kind === "readable" && json.json).toEqual([{ query: "{a}" }]);
    const form = read("_method=DELETE&a=b+c", "application/x-www-form-urlencoded");
    expect(form.kind === "readable" && form.form).toEqual([
      ["_method", "DELETE"],
      ["a", "b c"],
    ]);
  });
});

describe("helpers", () => {
  it("parseContentType reads media type and charset", () => {
    expect(parseContentType('Application/JSON; Charset="UTF-8"')).toEqual({
      mediaType: "application/json",
      charset: "utf-8",
    });
    expect(parseContentType(undefined)).toEqual({ mediaType: "" });
    expect(parseContentType("json")).toBeUndefined();
  });

  it("foldForMatch does NFKC, full case folding and drops invisible characters", () => {
    expect(foldForMatch("STRASSE")).toBe(foldForMatch("straße"));
    expect(foldForMatch("\u212Aey")).toBe("key");
    expect(foldForMatch("\ufb01le")).toBe("file");
  });

  it("parseJsonStrict keeps keys that only look alike apart", () => {
    expect(parseJsonStrict('{"a":1,"A":2}').ok).toBe(true);
    expect(parseJsonStrict('{"a":{"x":1},"b":{"x":1}}').ok).toBe(true);
    expect(parseJsonStrict('{"a":"\\"}\\",\\"a\\":1"}').ok).toBe(true);
  });
});

describe("NUL bytes", () => {
  it("UTF-16 bytes declared as UTF-8 (valid UTF-8, full of NULs) are unreadable", () => {
    const c = canonicalBody(
      new Uint8Array(Buffer.from("wire-transfer", "utf16le")),
      "text/plain; charset=utf-8",
      undefined,
    );
    expect(c.kind).toBe("unreadable");
  });
});

describe("nested and markup encodings", () => {
  const has = (c: CanonicalBody, needle: string) =>
    c.kind === "readable" && c.readings.some((r) => r.includes(needle));

  it("reads JSON inside form fields decoded (Slack blocks)", () => {
    const body = `blocks=${encodeURIComponent('[{"text":"wire\\u002dtransfer"}]')}&channel=C1`;
    expect(has(read(body, "application/x-www-form-urlencoded"), "wire-transfer")).toBe(true);
  });

  it("refuses ambiguous JSON inside a form field", () => {
    const body = `blocks=${encodeURIComponent('{"a":1,"a":2}')}`;
    expect(read(body, "application/x-www-form-urlencoded").kind).toBe("unreadable");
  });

  it("decodes XML character references", () => {
    expect(
      has(read("<a>&#119;ire&#x2d;transfer &amp; co</a>", "application/xml"), "wire-transfer & co"),
    ).toBe(true);
  });

  it.each([
    ["a DOCTYPE", '<!DOCTYPE a [<!ENTITY w "wire-transfer">]><a>&w;</a>', "application/xml"],
    ["an unknown named entity", "<p>wire&hyphen;transfer</p>", "text/html"],
  ])("markup with %s is unreadable", (_why, body, type) => {
    expect(read(body, type).kind).toBe("unreadable");
  });
});
