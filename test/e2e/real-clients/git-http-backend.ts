/**
 * A smart-HTTP git server for the recording upstreams: `git http-backend` run as a CGI per request
 * (GIT_PROJECT_ROOT, GIT_HTTP_EXPORT_ALL, receive-pack on), answering only requests that carry
 * `Authorization: Bearer <token>`, like a forge. Request bodies are piped to the CGI as they come
 * (chunked packs have no CONTENT_LENGTH: http-backend then reads to EOF).
 */
import { spawn } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RecordedRequest, RouteHandler } from "../../fakes/upstreams.js";

/** The paths smart HTTP uses for `repo` (e.g. "/repo.git"). */
export function smartHttpPaths(repo: string): string[] {
  return [`${repo}/info/refs`, `${repo}/git-upload-pack`, `${repo}/git-receive-pack`];
}

/** A route handler serving every repository under `projectRoot` to callers holding `token`. */
export function gitHttpBackend(projectRoot: string, token: string): RouteHandler {
  return (req: IncomingMessage, res: ServerResponse, _rec: RecordedRequest) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      req.resume();
      res.writeHead(401, { "www-authenticate": 'Bearer realm="git"', "content-type": "text/plain" });
      res.end("bad credentials\n");
      return;
    }
    const [path = "/", query = ""] = (req.url ?? "/").split(/\?(.*)/s);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: "1",
      GIT_CONFIG_NOSYSTEM: "1",
      GATEWAY_INTERFACE: "CGI/1.1",
      REQUEST_METHOD: req.method ?? "GET",
      PATH_INFO: decodeURIComponent(path),
      QUERY_STRING: query,
      // receive-pack needs an authenticated user (or http.receivepack in the repository).
      REMOTE_USER: "agent",
      REMOTE_ADDR: "127.0.0.1",
    };
    const h = req.headers;
    if (h["content-type"]) env.CONTENT_TYPE = h["content-type"];
    if (h["content-length"]) env.CONTENT_LENGTH = h["content-length"];
    if (h["content-encoding"]) env.HTTP_CONTENT_ENCODING = String(h["content-encoding"]);
    if (h["git-protocol"]) env.GIT_PROTOCOL = String(h["git-protocol"]);
    const cgi = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    cgi.stdout.on("data", (c: Buffer) => out.push(c));
    cgi.stderr.on("data", (c: Buffer) => err.push(c));
    cgi.stdin.on("error", () => {});
    req.pipe(cgi.stdin);
    cgi.on("close", (code) => {
      const all = Buffer.concat(out);
      const split = all.indexOf("\r\n\r\n") >= 0 ? all.indexOf("\r\n\r\n") : all.indexOf("\n\n");
      if (split < 0) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(`http-backend exited ${code}: ${Buffer.concat(err).toString()}`);
        return;
      }
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of all.subarray(0, split).toString("latin1").split(/\r?\n/)) {
        const colon = line.indexOf(":");
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === "status") status = Number.parseInt(value, 10);
        else headers[name] = value;
      }
      const body = all.subarray(split + (all[split] === 13 ? 4 : 2));
      res.writeHead(status, { ...headers, "content-length": body.length });
      res.end(body);
    });
  };
}
