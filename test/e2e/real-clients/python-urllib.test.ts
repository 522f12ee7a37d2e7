/**
 * Python's standard library client (urllib.request with a ProxyHandler, the way the agent's
 * HTTP(S)_PROXY would be used; for https an SSL context trusting only the Warden CA) through the
 * real gateway. A GET carries the placeholder in Authorization and in the query; a POST sends JSON.
 * The upstream must get the real value; nothing Python received may hold it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClientWorld, cleanEnv, haveBinary, run, startClientWorld } from "./client-world.js";

const KEY = "py-REAL-key-8e41b07c9d2a5f36";
const SCHEMES = ["http", "https"] as const;

/** Reads {proxy, cafile, base, placeholder} on stdin; prints every response it got as JSON. */
const SCRIPT = `
import json, ssl, sys, urllib.request
cfg = json.load(sys.stdin)
context = ssl.create_default_context(cafile=cfg["cafile"])
opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({"http": cfg["proxy"], "https": cfg["proxy"]}),
    urllib.request.HTTPSHandler(context=context),
)
auth = {"Authorization": "Bearer " + cfg["placeholder"]}
out = []
def call(req):
    with opener.open(req, timeout=30) as res:
        out.append({"status": res.status, "headers": dict(res.getheaders()), "body": res.read().decode()})
call(urllib.request.Request(cfg["base"] + "/py/get?key=" + cfg["placeholder"], headers=auth))
body = json.dumps({"prompt": "hello", "n": 1}).encode()
call(urllib.request.Request(cfg["base"] + "/py/post", data=body, method="POST",
     headers={**auth, "Content-Type": "application/json"}))
print(json.dumps(out))
`;

let world: ClientWorld;

beforeAll(async () => {
  world = await startClientWorld({
    policies: { pyapi: { hosts: ["py.test"], secrets: { PY_KEY: {} }, rules: [], default: "allow" } },
    secrets: { PY_KEY: KEY },
    hosts: ["py.test"],
  });
});

afterAll(async () => {
  await world?.close();
});

describe.skipIf(!haveBinary("python3"))("python3 urllib", () => {
  it.each(SCHEMES)("GET and POST through a ProxyHandler (%s://)", async (scheme) => {
    world.reset();
    const placeholder = world.placeholder("PY_KEY");
    const input = JSON.stringify({
      proxy: world.proxyUrl,
      cafile: world.caFile,
      base: `${scheme}://py.test`,
      placeholder,
    });
    const result = await run("python3", ["-c", SCRIPT], { env: cleanEnv(world.dir), input });
    world.expectNoSecret(result.text, "what python received");
    expect(result.code, result.stderr.toString()).toBe(0);
    const [get, post] = JSON.parse(result.stdout.toString()) as Array<{ status: number; body: string }>;
    expect([get?.status, post?.status]).toEqual([200, 200]);
    // The upstream echoes what it got: the gateway turned the real key back into the placeholder.
    expect(JSON.parse(get?.body ?? "").headers.authorization).toBe(`Bearer ${placeholder}`);
    expect(JSON.parse(post?.body ?? "").body).toBe('{"prompt": "hello", "n": 1}');

    const [seenGet, seenPost] = await world.requests();
    expect(seenGet?.url).toBe(`/py/get?key=${KEY}`);
    expect(seenGet?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(seenPost?.method).toBe("POST");
    expect(seenPost?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(seenPost?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(seenPost?.body.toString() ?? "")).toEqual({ prompt: "hello", n: 1 });
  });

  it("the gateway's output and audit hold no real value; each upstream request has one audited allow", async () => {
    await world.expectGatewayKeptBooks();
  });
});
