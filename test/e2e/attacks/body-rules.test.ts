/**
 * Class 4: body rules read what the upstream acts on. An agent tries to get a body past a deny
 * rule by writing the needle so the upstream still reads it (JSON escapes, duplicate keys,
 * percent-encoding, another charset, look-alike letters, compression, multipart), and to get a
 * GraphQL mutation past a `graphql: [mutation]` rule (operationName, aliases, comments,
 * fragments, batches, persisted queries). Nothing reaches the upstream; the audit names the rule.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditFor, type PolicyWorld, sendRaw, startPolicyWorld, vias } from "./policy-world.js";

let w: PolicyWorld;

beforeAll(async () => {
  w = await startPolicyWorld({
    policies: {
      bodies: {
        rules: [
          { name: "no-wires", body_contains: ["wire-transfer"], action: "deny" },
          {
            name: "no-mutations",
            methods: ["POST"],
            paths: ["/graphql"],
            graphql: ["mutation"],
            action: "deny",
          },
          { name: "queries", methods: ["POST"], paths: ["/graphql"], graphql: ["query"], action: "allow" },
          { name: "other-graphql", methods: ["POST"], paths: ["/graphql"], action: "deny" },
        ],
        default: "allow",
      },
    },
  });
}, 120_000);

afterAll(async () => {
  await w?.close();
});

const JSON_TYPE = "Content-Type: application/json";
const utf16le = (s: string): Buffer => Buffer.from(s, "utf16le");
const gql = (body: unknown): [string, Buffer] => [JSON_TYPE, Buffer.from(JSON.stringify(body))];
let n = 0;

describe.each(vias("bodies"))("body rules ($label)", (via) => {
  // biome-ignore format: a table reads best one row per line
  it.each<[string, string, string | undefined, Buffer | string, string]>([
    // what it tries                              path        content-type                                          body                                                              rule
    ["JSON \\u escape inside the needle",         "/pay",     JSON_TYPE,                                            '{"memo":"wire\\u002dtransfer"}',                                 "no-wires"],
    ["JSON escaped solidus-free split",           "/pay",     JSON_TYPE,                                            '{"memo":"\\u0077\\u0069\\u0072\\u0065-transfer"}',               "no-wires"],
    ["duplicate JSON keys",                       "/pay",     JSON_TYPE,                                            '{"memo":"hi","memo":"ok"}',                                      "no-wires"],
    ["lone surrogate",                            "/pay",     JSON_TYPE,                                            '{"memo":"\\ud800"}',                                             "no-wires"],
    ["invalid JSON for a JSON type",              "/pay",     JSON_TYPE,                                            '{"memo":"wire-',                                                 "no-wires"],
    ["JSON with no content-type",                 "/pay",     undefined,                                            '{"memo":"wire\\u002dtransfer"}',                                 "no-wires"],
    ["percent-encoded form",                      "/pay",     "Content-Type: application/x-www-form-urlencoded",   "memo=wire%2Dtransfer",                                           "no-wires"],
    ["form with + for a space around it",         "/pay",     "Content-Type: application/x-www-form-urlencoded",   "memo=a+wire%2dtransfer+b",                                       "no-wires"],
    ["UTF-16LE text, declared",                   "/pay",     "Content-Type: text/plain; charset=utf-16le",        utf16le("wire-transfer"),                                         "no-wires"],
    ["UTF-16LE text declared as UTF-8",           "/pay",     "Content-Type: text/plain; charset=utf-8",           utf16le("wire-transfer"),                                         "no-wires"],
    ["unknown charset",                           "/pay",     "Content-Type: text/plain; charset=x-unknown",       "anything",                                                       "no-wires"],
    ["fullwidth look-alike letters",              "/pay",     "Content-Type: text/plain; charset=utf-8",           "\uff57ire-transfer",                                             "no-wires"],
    ["soft hyphen inside the needle",             "/pay",     "Content-Type: text/plain; charset=utf-8",           "wire-trans\u00adfer",                                            "no-wires"],
    ["gzip-compressed body",                      "/pay",     "Content-Encoding: gzip",                            Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]),                      "no-wires"],
    ["multipart body",                            "/pay",     "Content-Type: multipart/form-data; boundary=x",     "--x\r\n\r\nwire-transfer\r\n--x--\r\n",                          "no-wires"],
    ["binary content type",                       "/pay",     "Content-Type: application/octet-stream",            "wire-transfer",                                                  "no-wires"],
  ])("refuses %s", async (_why, path, type, body, rule) => {
    const seq = await w.lastSeq();
    const before = w.upstreamCount();
    const res = await sendRaw(w, via, { method: "POST", pathAndQuery: path, headers: type ? [type] : [], body });
    expect(res.errors, res.text).toEqual(["policy_denied"]);
    expect(w.upstreamCount()).toBe(before);
    expect((await auditFor(w, seq, path)).at(-1)).toMatchObject({ verdict: "deny", code: "policy_denied", rule });
  });

  // biome-ignore format: a table reads best one row per line
  it.each<[string, [string, Buffer | string], string?]>([
    // what it tries                                  headers and body
    ["a plain mutation",                              gql({ query: "mutation { deleteThing(id: 1) { ok } }" })],
    ["mutation picked by operationName",              gql({ query: "query Safe { a } mutation Evil { b }", operationName: "Evil" })],
    ["two operations without operationName",          gql({ query: "query Safe { a } mutation Evil { b }" })],
    ["an alias named like a query field",             gql({ query: "mutation { viewer: deleteThing(id: 1) { ok } }" })],
    ["a comment saying query",                        gql({ query: "# query { a }\nmutation { b }" })],
    ["fragments around a mutation",                   gql({ query: "fragment F on Mutation { b } mutation { ...F }" })],
    ["a batch with one mutation",                     gql([{ query: "{ a }" }, { query: "mutation { b }" }])],
    ["a \\u-escaped keyword",                         [JSON_TYPE, '{"query":"\\u006dutation { b }"}']],
    ["duplicate query keys (unreadable: the body rule refuses first)", [JSON_TYPE, '{"query":"{ a }","query":"mutation { b }"}'], "no-wires"],
    ["a persisted query",                             gql({ extensions: { persistedQuery: { version: 1, sha256Hash: "ab12" } } })],
    ["a form-encoded mutation",                       ["Content-Type: application/x-www-form-urlencoded", "query=%6Dutation+%7B+b+%7D"]],
    ["application/graphql body",                      ["Content-Type: application/graphql", "mutation { b }"]],
  ])("refuses GraphQL: %s", async (_why, [type, body], rule = "no-mutations") => {
    const seq = await w.lastSeq();
    const before = w.upstreamCount();
    const res = await sendRaw(w, via, { method: "POST", pathAndQuery: "/graphql", headers: [type], body });
    expect(res.errors, res.text).toEqual(["policy_denied"]);
    expect(w.upstreamCount()).toBe(before);
    expect((await auditFor(w, seq, "/graphql")).at(-1)).toMatchObject({ code: "policy_denied", rule });
  });

  it("lets a real query and a clean body through (control)", async () => {
    const before = w.upstreamCount();
    const [type, body] = gql({ query: "query { viewer { login } }", operationName: null });
    const q = await sendRaw(w, via, { method: "POST", pathAndQuery: "/graphql", headers: [type], body });
    expect(q.statuses, q.text).toEqual([200]);
    const clean = await sendRaw(w, via, {
      method: "POST",
      pathAndQuery: `/pay-${n++}`,
      headers: [JSON_TYPE],
      body: '{"memo":"wire me a postcard"}',
    });
    expect(clean.statuses, clean.text).toEqual([200]);
    expect(w.upstreamCount()).toBe(before + 2);
  });
});
