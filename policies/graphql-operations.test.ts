import { describe, expect, it } from "vitest";
import { canonicalBody } from "./canonical-body.js";
import { graphqlOperations } from "./graphql-operations.js";

const json = (value: unknown): string => JSON.stringify(value);
const ops = (body: string, type = "application/json", url: [string, string][] = []) => {
  const found = graphqlOperations(canonicalBody(new TextEncoder().encode(body), type, undefined), url);
  return found === "unreadable" ? found : [...found].sort();
};

const TWO = "query Read { viewer { login } } mutation Write { addStar(input: {}) { clientMutationId } }";

describe("graphqlOperations() reads the operation a server would execute", () => {
  // biome-ignore format: a table reads best one row per line
  it.each<[string, string, string, string[] | "unreadable"]>([
    // why                                                  body                                                                        content-type                         types
    ["plain query",                                         json({ query: "query { viewer { login } }" }),                               "application/json",                  ["query"]],
    ["shorthand query",                                     json({ query: "{ viewer { login } }" }),                                     "application/json",                  ["query"]],
    ["plain mutation",                                      json({ query: "mutation { addStar(input: {}) { a } }" }),                    "application/json",                  ["mutation"]],
    ["mutation after a comment that says query",            json({ query: "# query\nmutation { a }" }),                                  "application/json",                  ["mutation"]],
    ["mutation with leading commas and whitespace",         json({ query: ",,\n\t mutation{a}" }),                                      "application/json",                  ["mutation"]],
    ["alias named query on a mutation",                     json({ query: "mutation { query: deleteRepo(id: 1) { a } }" }),              "application/json",                  ["mutation"]],
    ["fragment does not change the type",                   json({ query: "mutation M { ...F } fragment F on Mutation { a }" }),         "application/json",                  ["mutation"]],
    ["operationName picks the mutation",                    json({ query: TWO, operationName: "Write" }),                                "application/json",                  ["mutation"]],
    ["operationName picks the query",                       json({ query: TWO, operationName: "Read" }),                                 "application/json",                  ["query"]],
    ["two operations, no name",                             json({ query: TWO }),                                                        "application/json",                  "unreadable"],
    ["operationName names nothing",                         json({ query: TWO, operationName: "Nope" }),                                 "application/json",                  "unreadable"],
    ["operationName not a string",                          json({ query: "{a}", operationName: 5 }),                                    "application/json",                  "unreadable"],
    ["null operationName is absent",                        json({ query: "mutation { a }", operationName: null }),                      "application/json",                  ["mutation"]],
    ["escaped keyword in JSON",                             '{"query":"\\u006dutation { a }"}',                                          "application/json",                  ["mutation"]],
    ["batch: any element counts",                           json([{ query: "{ a }" }, { query: "mutation { b }" }]),                     "application/json",                  ["mutation", "query"]],
    ["batch with a persisted element",                      json([{ query: "{ a }" }, { id: "abc" }]),                                   "application/json",                  "unreadable"],
    ["empty batch",                                         "[]",                                                                        "application/json",                  "unreadable"],
    ["persisted query (no query text)",                     json({ extensions: { persistedQuery: { version: 1, sha256Hash: "ab" } } }),  "application/json",                  "unreadable"],
    ["query is not a string",                               json({ query: ["mutation { a }"] }),                                          "application/json",                  "unreadable"],
    ["does not parse",                                      json({ query: "mutation {" }),                                               "application/json",                  "unreadable"],
    ["only fragments",                                      json({ query: "fragment F on Q { a }" }),                                    "application/json",                  "unreadable"],
    ["subscription",                                        json({ query: "subscription { s }" }),                                       "application/json",                  ["subscription"]],
    ["application/graphql body",                            "mutation { a }",                                                            "application/graphql",               ["mutation"]],
    ["form body",                                           "query=mutation+%7B+a+%7D",                                                   "application/x-www-form-urlencoded", ["mutation"]],
    ["form body with two query keys",                       "query=%7Ba%7D&query=mutation%7Ba%7D",                                        "application/x-www-form-urlencoded", "unreadable"],
    ["text that is not a GraphQL transport",                "mutation { a }",                                                            "text/plain",                        "unreadable"],
    ["duplicate JSON keys",                                 '{"query":"{a}","query":"mutation{a}"}',                                     "application/json",                  "unreadable"],
  ])("%s", (_why, body, type, expected) => {
    expect(ops(body, type)).toEqual(expected);
  });

  it("an empty body without URL parameters is not a GraphQL request", () => {
    expect(ops("")).toEqual([]);
  });

  it("reads query and operationName from the URL too, together with the body", () => {
    expect(ops("", "application/json", [["query", "mutation { a }"]])).toEqual(["mutation"]);
    expect(ops(json({ query: "{ a }" }), "application/json", [["query", "mutation { a }"]])).toEqual([
      "mutation",
      "query",
    ]);
  });

  it("a compressed body is unreadable", () => {
    const body = canonicalBody(new TextEncoder().encode("{}"), "application/json", "gzip");
    expect(graphqlOperations(body)).toBe("unreadable");
  });

  it("a token flood is refused rather than parsed", () => {
    expect(ops(json({ query: `{ ${"a ".repeat(200_000)}}` }))).toBe("unreadable");
  });
});
