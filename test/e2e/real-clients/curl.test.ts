/**
 * The system curl through the real gateway, as an agent in a container runs it: `-x` with the
 * agent's proxy URL, `--cacert` the Warden CA, the placeholder from its env in Authorization. Both
 * `http://` (absolute form) and `https://` (CONNECT + TLS interception) on the default ports. The
 * upstream must get the real secret; nothing curl prints (verbose headers included) may hold it.
 */
import { createHash, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClientWorld,
  cleanEnv,
  haveBinary,
  type RunResult,
  run,
  startClientWorld,
} from "./client-world.js";

const TOKEN = "files-REAL-token-5c1e9a7f3b2d8e60";
const HEAD_BODY = "hello from head\n";
const SCHEMES = ["http", "https"] as const;
/** Written by `-w` after each transfer: status, new connections made, bytes downloaded. */
const WRITE_OUT = "\n@@%{http_code} %{num_connects} %{size_download}@@\n";

let world: ClientWorld;
let upload: { file: string; sha256: string; size: number };

beforeAll(async () => {
  world = await startClientWorld({
    policies: {
      files: { hosts: ["files.test"], secrets: { FILES_TOKEN: {} }, rules: [], default: "allow" },
    },
    secrets: { FILES_TOKEN: TOKEN },
    hosts: ["files.test"],
  });
  world.route("/head", (req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(HEAD_BODY) });
    res.end(req.method === "HEAD" ? undefined : HEAD_BODY);
  });
  world.route("/nocontent", (_req, res, rec) => {
    void rec.done.then(() => res.writeHead(204, { "x-done": "yes" }).end());
  });
  world.route("/gzip", (req, res, rec) => {
    void rec.done.then(() => {
      // An upstream that echoes the credential inside a compressed body.
      const body = gzipSync(JSON.stringify({ youSent: req.headers.authorization ?? "" }));
      res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" }).end(body);
    });
  });
  const bytes = Buffer.from(randomBytes(96 * 1024).toString("base64"));
  const file = join(world.dir, "upload.txt");
  await writeFile(file, bytes);
  upload = { file, sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length };
});

afterAll(async () => {
  await world?.close();
});

/** Options every transfer needs (curl's `--next` resets them). */
function base(): string[] {
  return [
    "-sS",
    "-v",
    "--max-time",
    "30",
    "-x",
    world.proxyUrl,
    "--cacert",
    world.caFile,
    "-H",
    `Authorization: Bearer ${world.placeholder("FILES_TOKEN")}`,
    "-w",
    WRITE_OUT,
  ];
}

async function curl(args: string[]): Promise<{ result: RunResult; transfers: number[][]; body: string }> {
  const result = await run("curl", args, { env: cleanEnv(world.dir) });
  const out = result.stdout.toString("utf8");
  world.expectNoSecret(result.text, "curl's output");
  expect(result.code, result.stderr.toString("utf8")).toBe(0);
  const transfers = [...out.matchAll(/@@(\d+) (\d+) (\d+)@@/g)].map((m) => m.slice(1).map(Number));
  return { result, transfers, body: out.replace(/\n@@\d+ \d+ \d+@@\n/g, "") };
}

/** The one recorded request for `path`, after checking it carried the real token. */
async function upstreamGot(path: string) {
  const seen = (await world.requests()).filter((r) => r.url.startsWith(path));
  expect(seen).toHaveLength(1);
  expect(seen[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  return seen[0]!;
}

describe.skipIf(!haveBinary("curl"))("curl", () => {
  describe.each(SCHEMES)("%s://", (scheme) => {
    const url = (path: string) => `${scheme}://files.test${path}`;

    it.each([
      // why                                   extra headers
      ["Content-Length upload", []],
      ["chunked upload", ["-H", "Transfer-Encoding: chunked"]],
      ["Expect: 100-continue upload", ["-H", "Expect: 100-continue", "--expect100-timeout", "25"]],
    ])("%s reaches the upstream intact with the real token", async (why, extra) => {
      world.reset();
      const path = `/upload/${why.split(" ")[0]}`;
      const { transfers, body, result } = await curl([
        ...base(),
        ...extra,
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        `@${upload.file}`,
        url(path),
      ]);
      expect(transfers).toEqual([[200, 1, expect.any(Number)]]);
      const seen = await upstreamGot(path);
      expect(seen.method).toBe("POST");
      expect(seen.bodyBytes).toBe(upload.size);
      expect(seen.bodySha256).toBe(upload.sha256);
      // The echo carries the real token back; the gateway turns it into the placeholder.
      expect(JSON.parse(body).headers.authorization).toBe(`Bearer ${world.placeholder("FILES_TOKEN")}`);
      if (why.startsWith("Expect")) expect(result.stderr.toString()).toMatch(/< HTTP\/1\.1 100 Continue/);
    });

    it("HEAD keeps its Content-Length, then a GET reuses the connection", async () => {
      world.reset();
      const { transfers, result, body } = await curl([
        ...base(),
        "-I",
        url("/head"),
        "--next",
        ...base(),
        url("/head"),
      ]);
      // The HEAD's own header block: the last one before its write-out (https:// has the CONNECT's first).
      const blocks = result.stdout.toString("utf8").split("@@")[0]?.split("\r\n\r\n") ?? [];
      const headers = blocks.filter((b) => b.trim()).at(-1) ?? "";
      expect(headers).toMatch(new RegExp(`^content-length: ${Buffer.byteLength(HEAD_BODY)}\\r?$`, "im"));
      expect(transfers.map(([status, connects]) => [status, connects])).toEqual([
        [200, 1],
        [200, 0],
      ]);
      expect(body.endsWith(HEAD_BODY)).toBe(true);
      const seen = await world.requests();
      expect(seen.map((r) => r.method)).toEqual(["HEAD", "GET"]);
      for (const r of seen) expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
    });

    it("a 204 ends without a body and the connection carries the next request", async () => {
      world.reset();
      const { transfers } = await curl([...base(), url("/nocontent"), "--next", ...base(), url("/after")]);
      expect(transfers.map(([status, connects]) => [status, connects])).toEqual([
        [204, 1],
        [200, 0],
      ]);
      await upstreamGot("/nocontent");
      await upstreamGot("/after");
    });

    it("--compressed: a gzip body echoing the token arrives decoded with the placeholder", async () => {
      world.reset();
      const { body, transfers } = await curl([...base(), "--compressed", url("/gzip")]);
      expect(transfers[0]?.[0]).toBe(200);
      expect(JSON.parse(body)).toEqual({ youSent: `Bearer ${world.placeholder("FILES_TOKEN")}` });
      // The gateway may ask for `identity`; this upstream compresses regardless, as some do.
      await upstreamGot("/gzip");
    });
  });

  it("the gateway's output and audit hold no real value; each upstream request has one audited allow", async () => {
    await world.expectGatewayKeptBooks();
  });
});
