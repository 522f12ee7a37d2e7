import { describe, expect, it } from "vitest";
import { canonicalBody } from "./canonical-body.js";
import { methodOverrides, strictest } from "./method-override.js";
import type { Decision } from "./types.js";

const body = (text: string, type: string) => canonicalBody(new TextEncoder().encode(text), type, undefined);

describe("methodOverrides() finds every method a framework could run instead", () => {
  // biome-ignore format: a table reads best one row per line
  it.each<[string, [string, string][], string, string | undefined, string | undefined, string[]]>([
    // why                                   headers                                                         query                          body                       content-type                          methods
    ["none",                                 [["content-type", "text/plain"]],                               "a=1",                         undefined,                 undefined,                            []],
    ["X-HTTP-Method-Override",               [["X-HTTP-Method-Override", "DELETE"]],                         "",                            undefined,                 undefined,                            ["DELETE"]],
    ["header name in odd case",              [["x-hTTp-meTHod-oVERRide", "delete"]],                         "",                            undefined,                 undefined,                            ["DELETE"]],
    ["X-HTTP-Method",                        [["x-http-method", "PUT"]],                                     "",                            undefined,                 undefined,                            ["PUT"]],
    ["X-Method-Override",                    [["x-method-override", "PATCH"]],                               "",                            undefined,                 undefined,                            ["PATCH"]],
    ["repeated header",                      [["x-http-method-override", "GET"], ["X-HTTP-Method-Override", "DELETE"]], "",                 undefined,                 undefined,                            ["GET", "DELETE"]],
    ["comma list",                           [["x-http-method-override", "GET, DELETE"]],                    "",                            undefined,                 undefined,                            ["GET", "DELETE"]],
    ["_method in the query",                 [],                                                             "_method=DELETE",              undefined,                 undefined,                            ["DELETE"]],
    ["_method percent-encoded",              [],                                                             "%5Fmethod=%44ELETE",          undefined,                 undefined,                            ["DELETE"]],
    ["_method after a semicolon",            [],                                                             "a=1;_method=DELETE",          undefined,                 undefined,                            ["DELETE"]],
    ["_method repeated",                     [],                                                             "_method=GET&_method=PUT",     undefined,                 undefined,                            ["GET", "PUT"]],
    ["_Method in odd case",                  [],                                                             "_METHOD=put",                 undefined,                 undefined,                            ["PUT"]],
    ["_method in a form body",               [],                                                             "",                            "_method=DELETE&a=1",      "application/x-www-form-urlencoded",  ["DELETE"]],
    ["_method in a JSON body",               [],                                                             "",                            '{"_method":"DELETE"}',    "application/json",                   ["DELETE"]],
    ["_method escaped in a JSON body",       [],                                                             "",                            '{"\\u005fmethod":"DELETE"}', "application/json",                ["DELETE"]],
  ])("%s", (_why, headers, query, text, type, expected) => {
    const result = methodOverrides(headers, query, text === undefined ? undefined : body(text, type ?? ""));
    expect(result.ok).toBe(true);
    expect(result.ok && result.overrides.map((o) => o.method)).toEqual(expected);
  });

  // biome-ignore format: a table reads best one row per line
  it.each<[string, [string, string][], string]>([
    ["empty header value",                   [["x-http-method-override", ""]],                               ""],
    ["not a token",                          [["x-http-method-override", "DEL ETE"]],                        ""],
    ["a NUL after the method",               [["x-http-method", "DELETE\u0000"]],                            ""],
    ["an empty element in a list",           [["x-method-override", "GET,,DELETE"]],                         ""],
    ["_method with no value",                [],                                                             "_method"],
    ["_method not decodable",                [],                                                             "_method=%zz"],
    ["key not decodable but names _method",  [],                                                             "_me%zzthod=DELETE&_method%ff=DELETE"],
  ])("refuses (bad_request): %s", (_why, headers, query) => {
    expect(methodOverrides(headers, query).ok).toBe(false);
  });

  it("refuses a multipart body that names _method (frameworks read it there too)", () => {
    const raw = new TextEncoder().encode(
      '--b\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--b--',
    );
    const c = canonicalBody(raw, "multipart/form-data; boundary=b", undefined);
    expect(methodOverrides([], "", c, raw).ok).toBe(false);
  });

  it("says where each method came from", () => {
    const result = methodOverrides([["X-HTTP-Method-Override", "delete"]], "_method=put");
    expect(result.ok && result.overrides).toEqual([
      { via: "X-HTTP-Method-Override header", method: "DELETE" },
      { via: "_method query parameter", method: "PUT" },
    ]);
  });
});

describe("strictest()", () => {
  const allow: Decision = { verdict: "allow", policy: "p", rule: "read" };
  const approve = (approvals: number, rule = "a"): Decision => ({
    verdict: "approve",
    policy: "p",
    rule,
    approvals,
    approvers: [],
    timeoutMs: 1,
    covers: "x",
  });
  const deny: Decision = {
    verdict: "deny",
    code: "policy_denied",
    reason: "denied_by_rule",
    policy: "p",
    rule: "d",
  };

  it("deny beats approve beats allow, whatever the order", () => {
    expect(strictest([allow, deny, approve(1)])).toBe(deny);
    expect(strictest([approve(1), allow])).toEqual(approve(1));
    expect(strictest([allow])).toBe(allow);
  });

  it("between approvals, the one needing more people; ties keep the first", () => {
    expect(strictest([approve(1, "one"), approve(2, "two")])).toMatchObject({ rule: "two" });
    expect(strictest([approve(1, "first"), approve(1, "second")])).toMatchObject({ rule: "first" });
  });
});
