/**
 * Parsing of request targets from the agent. Untrusted input: we parse by hand instead of with
 * WHATWG `URL`, because `URL` silently resolves `..` and `%2e%2e` and would hide a traversal from the
 * policy check. Userinfo, empty hosts, bad ports and non-http schemes are rejected.
 */
import { normalizeHost } from "../policies/index.js";

/** Where a request goes, as the policy sees it. `host` is normalised (lowercase, no trailing dot). */
export interface Target {
  readonly scheme: "http" | "https";
  readonly host: string;
  readonly port: number;
}

/** Splits `host[:port]` (or `[v6]:port`); undefined when malformed. */
export function parseAuthority(
  authority: string,
  defaultPort: number,
): { host: string; port: number } | undefined {
  if (authority.length === 0 || authority.length > 300 || authority.includes("@")) return undefined;
  let hostPart: string;
  let portPart: string | undefined;
  if (authority.startsWith("[")) {
    const end = authority.indexOf("]");
    if (end < 0) return undefined;
    hostPart = authority.slice(1, end).toLowerCase();
    const rest = authority.slice(end + 1);
    if (rest !== "" && !rest.startsWith(":")) return undefined;
    portPart = rest === "" ? undefined : rest.slice(1);
    if (!/^[0-9a-f:.]+$/.test(hostPart) || !hostPart.includes(":")) return undefined;
  } else {
    const colon = authority.lastIndexOf(":");
    hostPart = colon >= 0 ? authority.slice(0, colon) : authority;
    portPart = colon >= 0 ? authority.slice(colon + 1) : undefined;
    const norm = normalizeHost(hostPart);
    if (norm === undefined) return undefined;
    hostPart = norm;
  }
  const port =
    portPart === undefined ? defaultPort : /^[0-9]{1,5}$/.test(portPart) ? Number(portPart) : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: hostPart, port };
}

/** Parses an absolute-form `http://host[:port]/path?query`; the path stays exactly as sent. */
export function parseAbsoluteForm(url: string): { target: Target; pathAndQuery: string } | undefined {
  const m = /^http:\/\/([^/?#]*)([/?][^#]*)?$/i.exec(url);
  if (!m) return undefined;
  const auth = parseAuthority(m[1] ?? "", 80);
  if (!auth) return undefined;
  let pathAndQuery = m[2] ?? "/";
  if (pathAndQuery.startsWith("?")) pathAndQuery = `/${pathAndQuery}`;
  return { target: { scheme: "http", ...auth }, pathAndQuery };
}

/** `Host` header value for a target (port only when not the scheme's default). */
export function hostHeader(t: Target): string {
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  const defaultPort = t.scheme === "https" ? 443 : 80;
  return t.port === defaultPort ? host : `${host}:${t.port}`;
}
