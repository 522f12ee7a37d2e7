/**
 * Every shipped preset against hostile requests: bodies that hide what they do (escapes,
 * percent-encoding, charsets, GraphQL tricks), method overrides, and placeholders in places the
 * preset does not declare. Steps 1–2 of the gateway pipeline are replayed with the same pure
 * functions (`placeSecrets`, `canonicalBody`, `methodOverrides`, `evaluate`, `strictest`).
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { canonicalBody } from "./canonical-body.js";
import { evaluate } from "./evaluate.js";
import { compilePolicies } from "./load.js";
import { methodOverrides, strictest } from "./method-override.js";
import { placeSecrets } from "./secret-places.js";
import type { PolicySet } from "./types.js";

const DIR = fileURLToPath(new URL("./presets/", import.meta.url));
const compiled = compilePolicies(
  readdirSync(DIR).map((file) => ({ file, text: readFileSync(`${DIR}${file}`, "utf8") })),
);
if (!compiled.ok) throw new Error(JSON.stringify(compiled.issues));
const SET: PolicySet = compiled.set;

/** One placeholder per preset secret, like the gateway hands an agent. */
const NAMES = SET.policies.flatMap((p) => Object.keys(p.secrets));
const PH = Object.fromEntries(NAMES.map((n, i) => [n, `wdn_${String(i).padStart(40, "0")}`]));
const find = (text: string): Set<string> => {
  const basic = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(text);
  const all = basic?.[1] ? `${text}\n${Buffer.from(basic[1], "base64").toString("utf8")}` : text;
  return new Set(NAMES.filter((n) => all.includes(PH[n] ?? "\u0000")));
};

interface Req {
  method?: string;
  host: string;
  path: string;
  query?: string;
  headers?: [string, string][];
  body?: string | Uint8Array;
  type?: string;
  encoding?: string;
}

/** Pipeline steps 1–2 as the gateway runs them; returns the verdict, or the refusal code. */
function outcome(r: Req): string {
  const headers: [string, string][] = [
    ...(r.headers ?? []),
    ...(r.type ? [["content-type", r.type] as [string, string]] : []),
    ...(r.encoding ? [["content-encoding", r.encoding] as [string, string]] : []),
  ];
  const policy = SET.policies.find((p) => p.hosts.includes(r.host));
  const placed = placeSecrets({
    secrets: policy?.secrets ?? {},
    path: r.path,
    query: r.query ?? "",
    headers,
    find,
  });
  if (!placed.ok) return "secret_misplaced";
  const bytes = typeof r.body === "string" ? new TextEncoder().encode(r.body) : r.body;
  const canonical = bytes && canonicalBody(bytes, r.type, r.encoding);
  const overrides = methodOverrides(headers, r.query ?? "", canonical, bytes);
  if (!overrides.ok) return "bad_request";
  const methods = [r.method ?? "GET", ...overrides.overrides.map((o) => o.method)];
  const decision = strictest(
    methods.map((method) =>
      evaluate(SET, { agent: "a", method, host: r.host, port: 443, path: r.path, query: r.query, canonical }),
    ),
  );
  return decision.verdict === "deny"
    ? `deny:${decision.rule ?? decision.reason}`
    : `${decision.verdict}:${decision.rule}`;
}

const GH = { method: "POST", host: "api.github.com", path: "/graphql", type: "application/json" };
const gql = (body: unknown): Req => ({ ...GH, body: JSON.stringify(body) });
const utf16le = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "utf16le"));

describe("github preset: GraphQL writes are held however they are dressed", () => {
  // biome-ignore format: a table reads best one row per line
  it.each<[string, Req, string]>([
    ["a plain query is allowed",                       gql({ query: "query { viewer { login } }" }),                                              "allow:graphql"],
    ["a plain mutation",                               gql({ query: "mutation { addStar(input: {starrableId: \"x\"}) { clientMutationId } }" }),   "approve:graphql-mutation"],
    ["mutation hidden by operationName",               gql({ query: "query Safe { viewer { login } } mutation Evil { deleteRef(input: {}) { a } }", operationName: "Evil" }), "approve:graphql-mutation"],
    ["two operations and no operationName",            gql({ query: "query Safe { a } mutation Evil { b }" }),                                    "approve:graphql-mutation"],
    ["alias named like a query field",                 gql({ query: "mutation { viewer: deleteRef(input: {}) { a } }" }),                         "approve:graphql-mutation"],
    ["comment saying query before a mutation",         gql({ query: "# query { viewer }\nmutation { a }" }),                                     "approve:graphql-mutation"],
    ["block string mentioning mutation in a query",    gql({ query: 'query { search(query: """mutation""") { a } }' }),                           "allow:graphql"],
    ["fragments around a mutation",                    gql({ query: "fragment F on Mutation { a } mutation M { ...F }" }),                         "approve:graphql-mutation"],
    ["batched array with one mutation",                gql([{ query: "{ a }" }, { query: "mutation { b }" }]),                                     "approve:graphql-mutation"],
    ["persisted query without text",                   gql({ extensions: { persistedQuery: { version: 1, sha256Hash: "abc" } } }),               "approve:graphql-mutation"],
    ["\\u-escaped keyword",                            { ...GH, body: '{"query":"\\u006dutation { a }"}' },                                       "approve:graphql-mutation"],
    ["duplicate query keys",                           { ...GH, body: '{"query":"{ a }","query":"mutation { b }"}' },                             "approve:graphql-mutation"],
    ["percent-encoded form body",                      { ...GH, type: "application/x-www-form-urlencoded", body: "query=%6Dutation+%7B+a+%7D" },  "approve:graphql-mutation"],
    ["UTF-16 JSON declared as such",                   { ...GH, type: "application/json; charset=utf-16le", body: utf16le('{"query":"mutation { a }"}') }, "approve:graphql-mutation"],
    ["UTF-16 JSON declared as UTF-8",                  { ...GH, body: utf16le('{"query":"mutation { a }"}') },                                     "approve:graphql-mutation"],
    ["gzip body",                                      { ...GH, encoding: "gzip", body: "\u001f\u008b..." },                                       "approve:graphql-mutation"],
    ["application/graphql body",                       { ...GH, type: "application/graphql", body: "mutation { a }" },                            "approve:graphql-mutation"],
    ["text/plain GraphQL document",                    { ...GH, type: "text/plain", body: "mutation { a }" },                                     "approve:graphql-mutation"],
    ["mutation in the URL query",                      { ...gql({ query: "{ a }" }), query: "query=mutation%7Ba%7D" },                            "approve:graphql-mutation"],
    ["subscription is not a read",                     gql({ query: "subscription { a }" }),                                                      "approve:default"],
    ["X-HTTP-Method-Override: DELETE on a read",       { host: "api.github.com", path: "/repos/a/b", headers: [["X-HTTP-Method-Override", "DELETE"]] }, "deny:no-deletes"],
    ["_method=DELETE in the query of a read",          { host: "api.github.com", path: "/repos/a/b", query: "_method=DELETE" },                  "deny:no-deletes"],
    ["override that is not a method",                  { host: "api.github.com", path: "/repos/a/b", headers: [["x-http-method", "DEL ETE"]] },  "bad_request"],
  ])("%s", (_why, req, expected) => {
    expect(outcome(req)).toBe(expected);
  });
});

describe("other presets: overrides and bodies cannot turn an allowed call into a refused one", () => {
  // biome-ignore format: a table reads best one row per line
  it.each<[string, Req, string]>([
    ["openai inference is allowed",                    { method: "POST", host: "api.openai.com", path: "/v1/chat/completions", type: "application/json", body: "{}" }, "allow:inference"],
    ["openai: override to DELETE a model",             { method: "GET", host: "api.openai.com", path: "/v1/models/x", headers: [["x-method-override", "DELETE"]] }, "deny:default"],
    ["anthropic: _method=DELETE in the query",         { method: "POST", host: "api.anthropic.com", path: "/v1/messages", query: "_method=DELETE" }, "deny:default"],
    ["slack read turned into a form _method",          { method: "POST", host: "slack.com", path: "/api/conversations.history", type: "application/x-www-form-urlencoded", body: "channel=C1&_method=DELETE" }, "deny:default"],
    ["stripe read with X-HTTP-Method: POST is held",   { method: "GET", host: "api.stripe.com", path: "/v1/charges", headers: [["X-HTTP-Method", "POST"]] }, "approve:move-money"],
    ["stripe read with X-HTTP-Method: DELETE",         { method: "GET", host: "api.stripe.com", path: "/v1/customers/c", headers: [["X-HTTP-Method", "DELETE"]] }, "deny:no-deletes"],
    ["gmail read with comma-listed override",          { method: "GET", host: "gmail.googleapis.com", path: "/gmail/v1/users/me/messages/1", headers: [["x-http-method-override", "GET, DELETE"]] }, "deny:no-deletes"],
    ["gmail send via override on a draft",             { method: "POST", host: "gmail.googleapis.com", path: "/gmail/v1/users/me/drafts/send", headers: [["X-HTTP-Method-Override", "POST"]] }, "approve:send"],
  ])("%s", (_why, req, expected) => {
    expect(outcome(req)).toBe(expected);
  });
});

describe("every preset declares where its secrets go", () => {
  it("no preset secret is left undeclared", () => {
    for (const policy of SET.policies)
      for (const [name, use] of Object.entries(policy.secrets))
        expect(use.headers ?? use.query, `${policy.name}: ${name}`).toBeDefined();
  });

  const basic = (user: string, pass = ""): string =>
    `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
  const ph = (name: string): string => PH[name] ?? "";

  // What the current official SDKs send (captured against a recording server): openai 6.49,
  // @anthropic-ai/sdk 1.14 (Bearer for apiKey and authToken), @octokit/rest 22 ("token"),
  // @slack/web-api 8.2, stripe 23.1 (Bearer; curl -u gives Basic), googleapis 178.
  // biome-ignore format: a table reads best one row per line
  it.each<[string, string, [string, string]]>([
    ["openai SDK",                     "api.openai.com",       ["Authorization", `Bearer ${ph("OPENAI_API_KEY")}`]],
    ["anthropic SDK 1.x",              "api.anthropic.com",    ["authorization", `Bearer ${ph("ANTHROPIC_API_KEY")}`]],
    ["anthropic docs and older SDKs",  "api.anthropic.com",    ["x-api-key", ph("ANTHROPIC_API_KEY")]],
    ["octokit",                        "api.github.com",       ["authorization", `token ${ph("GITHUB_TOKEN")}`]],
    ["GitHub Bearer",                  "api.github.com",       ["Authorization", `Bearer ${ph("GITHUB_TOKEN")}`]],
    ["slack web-api",                  "slack.com",            ["authorization", `Bearer ${ph("SLACK_TOKEN")}`]],
    ["stripe-node",                    "api.stripe.com",       ["authorization", `Bearer ${ph("STRIPE_SECRET_KEY")}`]],
    ["stripe via curl -u",             "api.stripe.com",       ["authorization", basic(ph("STRIPE_SECRET_KEY"))]],
    ["googleapis gmail",               "gmail.googleapis.com", ["authorization", `Bearer ${ph("GMAIL_TOKEN")}`]],
  ])("%s: accepted", (_why, host, header) => {
    expect(outcome({ host, path: "/", headers: [header] })).not.toBe("secret_misplaced");
  });

  // biome-ignore format: a table reads best one row per line
  it.each<[string, Req]>([
    ["openai key in x-api-key",                    { host: "api.openai.com", path: "/v1/models", headers: [["x-api-key", ph("OPENAI_API_KEY")]] }],
    ["openai key in the query",                    { host: "api.openai.com", path: "/v1/models", query: `api_key=${ph("OPENAI_API_KEY")}` }],
    ["anthropic key in a custom header",           { host: "api.anthropic.com", path: "/v1/messages", headers: [["x-debug", ph("ANTHROPIC_API_KEY")]] }],
    ["github token in the path",                   { host: "api.github.com", path: `/repos/${ph("GITHUB_TOKEN")}/x` }],
    ["github token in an issue-title query",       { host: "api.github.com", path: "/search/issues", query: `q=${ph("GITHUB_TOKEN")}` }],
    ["github token Basic-encoded in another header", { host: "api.github.com", path: "/", headers: [["x-forwarded-authorization", basic("x", ph("GITHUB_TOKEN"))]] }],
    ["slack token as a query parameter",           { host: "slack.com", path: "/api/auth.test", query: `token=${ph("SLACK_TOKEN")}` }],
    ["stripe key in a cookie",                     { host: "api.stripe.com", path: "/v1/charges", headers: [["cookie", `k=${ph("STRIPE_SECRET_KEY")}`]] }],
    ["gmail token in a query parameter",           { host: "gmail.googleapis.com", path: "/gmail/v1/users/me/messages", query: `access_token=${ph("GMAIL_TOKEN")}` }],
  ])("refused: %s", (_why, req) => {
    expect(outcome(req)).toBe("secret_misplaced");
  });
});

describe("grant coverage on cards", () => {
  it("says what each preset's grant covers, in the rule's own terms", () => {
    const covers = (host: string, method: string, path: string, body?: string) =>
      (({ covers }) => covers)(
        evaluate(SET, {
          agent: "a",
          method,
          host,
          path,
          ...(body !== undefined && {
            canonical: canonicalBody(new TextEncoder().encode(body), "application/json", undefined),
          }),
        }) as { covers?: string },
      );
    expect(covers("api.github.com", "PUT", "/repos/a/b/pulls/1/merge")).toBe("PUT /repos/*/*/pulls/*/merge");
    expect(covers("api.github.com", "POST", "/graphql", '{"query":"mutation { a }"}')).toBe(
      "POST /graphql (GraphQL mutation)",
    );
    expect(covers("slack.com", "POST", "/api/chat.postMessage")).toMatch(/^POST \/api\/chat\.postMessage, /);
  });
});
