/**
 * Small argument helpers shared by the CLI commands: host:port and HOST=IP:PORT parsing with clear
 * errors, so a typo in a flag stops the program instead of listening somewhere unexpected.
 */

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Parses `HOST:PORT` (port 0 = any free port). */
export function hostPort(value: string, flag: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):([0-9]{1,5})$/.exec(value);
  const port = Number(m?.[2]);
  if (!m?.[1] || port > 65535) throw new UsageError(`${flag} expects HOST:PORT, got "${value}"`);
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}

/** Parses repeated `--resolve HOST=IP:PORT` flags into a map keyed by lowercased host. */
export function resolveMap(values: readonly string[]): Map<string, { host: string; port: number }> {
  const map = new Map<string, { host: string; port: number }>();
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq <= 0) throw new UsageError(`--resolve expects HOST=IP:PORT, got "${v}"`);
    map.set(v.slice(0, eq).toLowerCase().replace(/\.$/, ""), hostPort(v.slice(eq + 1), "--resolve"));
  }
  return map;
}
