/**
 * Class 7: secret placement. A policy says where each secret may go (`headers: [authorization]`,
 * `query: [key]`); the agent tries to have its placeholder swapped somewhere else, where upstreams
 * log or echo it: another header, a Basic pair in another header, the path, another query key
 * (also after `;`), a key name. Each is refused with 403 `secret_misplaced`, nothing reaches the
 * upstream, the audit row says so, and the real value appears nowhere the agent or a log can see.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditFor, type PolicyWorld, sendRaw, startPolicyWorld, vias } from "./policy-world.js";

const REAL = {
  PLACE_KEY: "sk-real-place-key-7f3a9c2e",
  QKEY: "sk-real-query-key-1b8d4e6f",
  OLD_KEY: "sk-real-old-5c2a",
  BODY_KEY: "sk-real-body-key-3e9f0a1c",
};
let w: PolicyWorld;
let ph: Record<keyof typeof REAL, string>;

beforeAll(async () => {
  w = await startPolicyWorld({
    policies: {
      place: {
        secrets: { PLACE_KEY: { headers: ["authorization"] }, QKEY: { query: ["key"] } },
        rules: [],
        default: "allow",
      },
      legacy: { secrets: { OLD_KEY: {} }, rules: [], default: "allow" },
      held: {
        secrets: { BODY_KEY: { body: true, headers: ["authorization"] } },
        rules: [{ name: "send", action: "approve", approvers: ["test:nobody"], timeout: "2s" }],
      },
    },
    secrets: REAL,
  });
  const env = w.agent.env;
  ph = {
    PLACE_KEY: env.PLACE_KEY ?? "",
    QKEY: env.QKEY ?? "",
    OLD_KEY: env.OLD_KEY ?? "",
    BODY_KEY: env.BODY_KEY ?? "",
  };
}, 120_000);

afterAll(async () => {
  await w?.close();
});

const basic = (user: string, pass = ""): string => Buffer.from(`${user}:${pass}`).toString("base64");
const leaked = (text: string): boolean => Object.values(REAL).some((real) => text.includes(real));

describe.each(vias("place"))("secret placement ($label)", (via) => {
  type P = typeof ph;
  // biome-ignore format: a table reads best one row per line
  it.each<[string, (p: P) => [string, string[]]]>([
    // what it tries                                 (placeholders) → [path and query, headers]
    ["the header key in x-api-key",                  (p) => ["/a", [`X-Api-Key: ${p.PLACE_KEY}`]]],
    ["the header key in a Basic pair elsewhere",     (p) => ["/b", [`X-Forwarded-Authorization: Basic ${basic("u", p.PLACE_KEY)}`]]],
    ["the header key in the path",                   (p) => [`/c/${p.PLACE_KEY}`, [`Authorization: Bearer ${p.PLACE_KEY}`]]],
    ["the header key in a query parameter",          (p) => [`/d?token=${p.PLACE_KEY}`, []]],
    ["the header key in a cookie",                   (p) => ["/e", [`Cookie: s=${p.PLACE_KEY}`]]],
    ["the query key under another key",              (p) => [`/f?key=x&note=${p.QKEY}`, []]],
    ["the query key after a semicolon",              (p) => [`/g?key=${p.QKEY};note=${p.QKEY}`, []]],
    ["the query key as a key name",                  (p) => [`/h?${p.QKEY}=1`, []]],
    ["the query key in the Authorization header",    (p) => ["/i", [`Authorization: Bearer ${p.QKEY}`]]],
  ])("refuses %s", async (why, build) => {
    const [pathAndQuery, headers] = build(ph);
    const seq = await w.lastSeq();
    const before = w.upstreamCount();
    const res = await sendRaw(w, via, { method: "GET", pathAndQuery, headers });
    expect(res.errors, `${why}: ${res.text}`).toEqual(["secret_misplaced"]);
    expect(res.statuses).toEqual([403]);
    expect(w.upstreamCount(), why).toBe(before);
    const path = pathAndQuery.split("?")[0] ?? "";
    expect(await auditFor(w, seq, path), why).toMatchObject([{ verdict: "deny", code: "secret_misplaced" }]);
    expect(leaked(res.text), why).toBe(false);
  });

  it("swaps the secrets in their declared places (control)", async () => {
    const upstream = via.mode.kind === "absolute" ? w.plain : w.tls;
    const before = upstream.requests.length;
    const res = await sendRaw(w, via, {
      method: "GET",
      pathAndQuery: `/ok?key=${ph.QKEY}&x=1`,
      headers: [`authorization: Bearer ${ph.PLACE_KEY}`],
    });
    expect(res.statuses, res.text).toEqual([200]);
    const seen = upstream.requests[before];
    expect(seen?.line).toContain(`key=${REAL.QKEY}`);
    expect(seen?.headers).toContainEqual(["authorization", `Bearer ${REAL.PLACE_KEY}`]);
    expect(leaked(res.text)).toBe(false);
  });
});

describe.each(vias("legacy"))("secrets without declared places keep the old behaviour ($label)", (via) => {
  it("swaps a placeholder in any header value and the request line", async () => {
    const upstream = via.mode.kind === "absolute" ? w.plain : w.tls;
    const before = upstream.requests.length;
    const res = await sendRaw(w, via, {
      method: "GET",
      pathAndQuery: `/old/${ph.OLD_KEY}`,
      headers: [`X-Custom: ${ph.OLD_KEY}`],
    });
    expect(res.statuses, res.text).toEqual([200]);
    const seen = upstream.requests[before];
    expect(seen?.line).toContain(REAL.OLD_KEY);
    expect(seen?.headers).toContainEqual(["x-custom", REAL.OLD_KEY]);
  });
});

describe.each(vias("held"))("the card lists the secrets a held request carries ($label)", (via) => {
  it("names each secret and where it goes, header and body, never a value", async () => {
    const path = `/held-${via.mode.kind}`;
    const answer = sendRaw(w, via, {
      method: "POST",
      pathAndQuery: path,
      headers: [`Authorization: Bearer ${ph.BODY_KEY}`, "Content-Type: application/json"],
      body: JSON.stringify({ key: ph.BODY_KEY }),
    });
    let card: { path: string; secrets?: unknown } | undefined;
    for (let i = 0; i < 60 && !card; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const pending: { path: string }[] = (await w.gw.control("GET", "/v1/approvals?state=pending")).body;
      card = pending.find((a) => a.path === path);
    }
    expect(card?.secrets).toEqual([
      { name: "BODY_KEY", where: "Authorization header" },
      { name: "BODY_KEY", where: "body" },
    ]);
    expect(leaked(JSON.stringify(card))).toBe(false);
    expect((await answer).errors).toEqual(["approval_expired"]);
  });
});

describe("no leak", () => {
  it("the gateway never printed a real value", () => {
    expect(leaked(w.gw.output())).toBe(false);
  });
});
