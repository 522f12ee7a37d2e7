/**
 * Class 3: method overrides. An agent allowed to GET tries to have the upstream run a DELETE (or
 * a held PUT) by naming it in `X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override` or
 * `_method`. The gateway evaluates every named method and applies the strictest verdict; nothing
 * reaches the upstream, and the audit row says which rule refused it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditFor, type PolicyWorld, sendRaw, startPolicyWorld, vias } from "./policy-world.js";

let w: PolicyWorld;

beforeAll(async () => {
  w = await startPolicyWorld({
    policies: {
      mo: {
        rules: [
          { name: "no-deletes", methods: ["DELETE"], action: "deny" },
          { name: "read", methods: ["GET", "POST"], action: "allow" },
          { name: "writes", methods: ["PUT"], action: "approve", approvers: ["test:nobody"], timeout: "2s" },
        ],
        default: "deny",
      },
      moform: {
        rules: [
          { name: "wires", body_contains: ["wire"], action: "deny" }, // makes the gateway buffer bodies
          { name: "no-deletes", methods: ["DELETE"], action: "deny" },
        ],
        default: "allow",
      },
    },
  });
}, 120_000);

afterAll(async () => {
  await w?.close();
});

describe.each(vias("mo"))("method overrides ($label)", (via) => {
  // biome-ignore format: a table reads best one row per line
  it.each<[string, string, readonly string[]]>([
    // what it tries                                     path and query                         headers
    ["X-HTTP-Method-Override: DELETE on a GET",          "/items/1",                            ["X-HTTP-Method-Override: DELETE"]],
    ["x-http-method in odd case",                        "/items/2",                            ["x-hTTp-METHOD: delete"]],
    ["X-Method-Override",                                "/items/3",                            ["X-Method-Override: DELETE"]],
    ["a harmless override repeated with DELETE",         "/items/4",                            ["X-HTTP-Method-Override: GET", "X-HTTP-Method-Override: DELETE"]],
    ["a comma list ending in DELETE",                    "/items/5",                            ["X-HTTP-Method-Override: GET, DELETE"]],
    ["_method=DELETE in the query",                      "/items/6?_method=DELETE",             []],
    ["_method percent-encoded",                          "/items/7?%5Fmethod=%44ELETE",         []],
    ["_method after a semicolon",                        "/items/8?a=1;_method=DELETE",         []],
  ])("refuses %s", async (_why, pathAndQuery, headers) => {
    const seq = await w.lastSeq();
    const before = w.upstreamCount();
    const res = await sendRaw(w, via, { method: "GET", pathAndQuery, headers });
    expect(res.statuses, res.text).toEqual([403]);
    expect(res.errors).toEqual(["policy_denied"]);
    expect(res.text).toContain("DELETE named by the");
    expect(w.upstreamCount()).toBe(before);
    const rows = await auditFor(w, seq, pathAndQuery.split("?")[0] ?? "");
    expect(rows).toMatchObject([{ verdict: "deny", code: "policy_denied", rule: "no-deletes" }]);
  });

  it("refuses an override value that is not a method (400, nothing upstream)", async () => {
    const seq = await w.lastSeq();
    const before = w.upstreamCount();
    const res = await sendRaw(w, via, {
      method: "GET",
      pathAndQuery: "/items/9",
      headers: ["X-HTTP-Method-Override: DEL ETE"],
    });
    expect(res.statuses).toEqual([400]);
    expect(res.errors).toEqual(["bad_request"]);
    expect(w.upstreamCount()).toBe(before);
    expect(await auditFor(w, seq, "/items/9")).toMatchObject([{ verdict: "deny", code: "bad_request" }]);
  });

  it("holds a GET that names PUT, shows the override on the card, and sends nothing when it expires", async () => {
    const before = w.upstreamCount();
    const path = `/items/held-${via.mode.kind}`;
    const answer = sendRaw(w, via, { method: "GET", pathAndQuery: path, headers: ["X-HTTP-Method: PUT"] });
    let pending: { path: string; rule: string; overrides?: unknown }[] = [];
    for (let i = 0; i < 50 && !pending.some((a) => a.path === path); i++) {
      await new Promise((r) => setTimeout(r, 50));
      pending = (await w.gw.control("GET", "/v1/approvals?state=pending")).body;
    }
    const card = pending.find((a) => a.path === path);
    expect(card?.rule).toBe("writes");
    expect(card?.overrides).toEqual([{ via: "X-HTTP-Method header", method: "PUT" }]);
    const res = await answer;
    expect(res.errors).toEqual(["approval_expired"]);
    expect(w.upstreamCount()).toBe(before);
  });

  it("lets a plain GET through (control)", async () => {
    const before = w.upstreamCount();
    const res = await sendRaw(w, via, { method: "GET", pathAndQuery: "/items/ok" });
    expect(res.statuses).toEqual([200]);
    expect(w.upstreamCount()).toBe(before + 1);
  });
});

describe.each(vias("moform"))("_method in a buffered body ($label)", (via) => {
  it("refuses _method=DELETE in a form body", async () => {
    const seq = await w.lastSeq();
    const before = w.upstreamCount();
    const res = await sendRaw(w, via, {
      method: "POST",
      pathAndQuery: "/form",
      headers: ["Content-Type: application/x-www-form-urlencoded"],
      body: "a=1&_method=DELETE",
    });
    expect(res.errors).toEqual(["policy_denied"]);
    expect(w.upstreamCount()).toBe(before);
    expect(await auditFor(w, seq, "/form")).toMatchObject([{ code: "policy_denied", rule: "no-deletes" }]);
  });

  it("refuses a multipart body that names _method", async () => {
    const before = w.upstreamCount();
    const body = '--b\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--b--\r\n';
    const res = await sendRaw(w, via, {
      method: "POST",
      pathAndQuery: "/multipart",
      headers: ["Content-Type: multipart/form-data; boundary=b"],
      body,
    });
    expect(res.errors).toEqual(["bad_request"]);
    expect(w.upstreamCount()).toBe(before);
  });
});
