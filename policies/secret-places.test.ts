import { describe, expect, it } from "vitest";
import { placeSecrets } from "./secret-places.js";
import type { SecretUse } from "./types.js";

const PH = {
  GH: "wdn_1111111111111111111111111111111111111111",
  OTHER: "wdn_2222222222222222222222222222222222222222",
};
const BY_VALUE = new Map(Object.entries(PH).map(([name, ph]) => [ph, name]));
/** Like the gateway's finder: literal placeholders, and inside a Basic pair. */
function find(text: string): Set<string> {
  const found = new Set<string>();
  const basic = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(text);
  const texts = [text, ...(basic?.[1] ? [Buffer.from(basic[1], "base64").toString("utf8")] : [])];
  for (const t of texts)
    for (const m of t.matchAll(/wdn_[0-9a-f]{40}/g))
      if (BY_VALUE.has(m[0])) found.add(BY_VALUE.get(m[0]) ?? "");
  return found;
}
const basic = (user: string, pass = "") => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;

const place = (
  secrets: Record<string, SecretUse>,
  where: { path?: string; query?: string; headers?: [string, string][]; body?: string },
) =>
  placeSecrets({
    secrets,
    path: where.path ?? "/",
    query: where.query ?? "",
    headers: where.headers ?? [],
    body: where.body,
    find,
  });

const HEADER_ONLY = { GH: { body: false, headers: ["authorization"] } };
const QUERY_ONLY = { GH: { body: false, query: ["key"] } };
const UNDECLARED = { GH: { body: false } };

describe("placeSecrets() with declared places", () => {
  // biome-ignore format: a table reads best one row per line
  it.each<[string, Record<string, SecretUse>, Parameters<typeof place>[1], string]>([
    // why                                        policy         request                                                                   misplaced where
    ["another header",                            HEADER_ONLY,   { headers: [["x-api-key", PH.GH]] },                                      "X-Api-Key header"],
    ["a Basic pair in another header",            HEADER_ONLY,   { headers: [["proxy-authorization-x", basic(PH.GH)]] },                   "Proxy-Authorization-X header"],
    ["the path",                                  HEADER_ONLY,   { path: `/repos/${PH.GH}/x`, headers: [["authorization", `token ${PH.GH}`]] }, "request path"],
    ["a query parameter",                         HEADER_ONLY,   { query: `q=${PH.GH}` },                                                  "query parameter q"],
    ["a query key name",                          QUERY_ONLY,    { query: `${PH.GH}=1` },                                                  "query parameter name"],
    ["another query key",                         QUERY_ONLY,    { query: `key=ok&note=${PH.GH}` },                                        "query parameter note"],
    ["a key hidden after a semicolon",            QUERY_ONLY,    { query: `key=${PH.GH};note=${PH.GH}` },                                  "query parameter note"],
    ["a percent-encoded key that is not listed",  QUERY_ONLY,    { query: `k%65y2=${PH.GH}` },                                             "query parameter key2"],
    ["authorization when only query is declared", QUERY_ONLY,    { headers: [["Authorization", `Bearer ${PH.GH}`]] },                      "Authorization header"],
  ])("refuses a placeholder in %s", (_why, secrets, request, where) => {
    const result = place(secrets, request);
    expect(result).toMatchObject({ ok: false, name: "GH", where });
    expect(result.ok || result.message).toContain("GH");
  });

  it("accepts the declared places, in any header case, and reports them", () => {
    const result = place(
      { GH: { body: false, headers: ["authorization"], query: ["key"] } },
      { headers: [["AUTHORIZATION", `token ${PH.GH}`]], query: `k%65y=${PH.GH}&x=1` },
    );
    expect(result).toEqual({
      ok: true,
      placements: [
        { name: "GH", where: "query parameter key" },
        { name: "GH", where: "Authorization header" },
      ],
    });
  });

  it("a Basic pair inside a listed header is fine (Stripe's key as user)", () => {
    expect(place(HEADER_ONLY, { headers: [["authorization", basic(PH.GH)]] }).ok).toBe(true);
  });

  it("reports body placements only for secrets with body: true", () => {
    const result = place(
      { GH: { body: true, headers: ["authorization"] }, OTHER: { body: false } },
      {
        body: `${PH.GH} ${PH.OTHER}`,
      },
    );
    expect(result).toEqual({ ok: true, placements: [{ name: "GH", where: "body" }] });
  });

  it("ignores secrets the policy does not list (the host check handles those)", () => {
    expect(place({}, { path: `/${PH.GH}` })).toEqual({ ok: true, placements: [] });
  });
});

describe("placeSecrets() without declared places keeps the old behaviour", () => {
  it("allows header values and the request line", () => {
    const result = place(UNDECLARED, {
      path: `/v1/${PH.GH}`,
      query: `key=${PH.GH}`,
      headers: [["x-anything", PH.GH]],
    });
    expect(result.ok && result.placements.map((p) => p.where)).toEqual([
      "request path",
      "query parameter key",
      "X-Anything header",
    ]);
  });
});
