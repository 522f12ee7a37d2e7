/**
 * Secret placement (DESIGN §3.1): where each placeholder in a request sits, and whether the
 * policy lets its secret go there.
 *
 * Untrusted: the path, query, headers and body, all from the agent. The gateway swaps a
 * placeholder for the real value wherever it is allowed to, so a placeholder in the wrong place
 * turns into the real secret in a URL that upstreams log, a header they echo, or a query key an
 * issue tracker displays. A policy that declares `headers: [...]` or `query: [...]` for a secret
 * means "only there": a placeholder in any other header (also inside a Basic pair), the path,
 * another query key (split on `&` and `;`, keys and values percent-decoded), or a key name is
 * misplaced. Without declarations the old rule stays (header values and the request line).
 * A body only counts when the policy says `body: true` (elsewhere the body is never swapped).
 * Pure: the caller passes `find`, which names the agent's placeholders inside a text.
 */

import type { SecretUse } from "./types.js";

/** One secret a request carries and where: `{ name: "GITHUB_TOKEN", where: "Authorization header" }`. */
export interface SecretPlacement {
  readonly name: string;
  readonly where: string;
}

export interface PlacementInput {
  /** The policy's secrets for this host (names outside it are the caller's `secret_host_mismatch`). */
  readonly secrets: Readonly<Record<string, SecretUse>>;
  /** Raw path without the query. */
  readonly path: string;
  /** Raw query without `?` ("" when none). */
  readonly query: string;
  readonly headers: readonly (readonly [string, string])[];
  /** Body text, when buffered (only searched for secrets with `body: true`). */
  readonly body?: string;
  /** Names of the agent's secrets whose placeholders appear in `text` (Basic pairs decoded). */
  readonly find: (text: string) => ReadonlySet<string>;
}

export type PlacementResult =
  | { readonly ok: true; readonly placements: readonly SecretPlacement[] }
  | { readonly ok: false; readonly name: string; readonly where: string; readonly message: string };

/** Lists every (secret, place) pair and refuses the first one the policy does not allow. */
export function placeSecrets(input: PlacementInput): PlacementResult {
  const { secrets, find } = input;
  const placements: SecretPlacement[] = [];
  let misplaced: { name: string; where: string } | undefined;
  // `label` is built only when the text holds a placeholder: most requests have none anywhere.
  const visit = (text: string, label: () => string, allowed: (use: SecretUse) => boolean): void => {
    const names = find(text);
    if (names.size === 0) return;
    const where = label();
    for (const name of names) {
      const use = secrets[name];
      if (use === undefined) continue;
      if (!allowed(use)) misplaced ??= { name, where };
      if (!placements.some((p) => p.name === name && p.where === where)) placements.push({ name, where });
    }
  };
  const declared = (use: SecretUse): boolean => use.headers !== undefined || use.query !== undefined;

  visit(
    input.path,
    () => "request path",
    (use) => !declared(use),
  );
  for (const part of input.query.split(/[&;]/)) {
    const eq = part.indexOf("=");
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const key = decode(rawKey);
    const value = eq < 0 ? "" : part.slice(eq + 1);
    visit(
      `${rawKey}\n${key}`,
      () => "query parameter name",
      (use) => !declared(use),
    );
    visit(
      `${value}\n${decode(value)}`,
      () => `query parameter ${printable(key)}`,
      (use) => (declared(use) ? (use.query?.includes(key) ?? false) : true),
    );
  }
  for (const [name, value] of input.headers) {
    const lower = name.toLowerCase();
    visit(
      value,
      () => `${headerLabel(lower)} header`,
      (use) => (declared(use) ? (use.headers?.includes(lower) ?? false) : true),
    );
  }
  // Searching a large body is skipped unless some secret may travel there.
  if (input.body !== undefined && Object.values(secrets).some((use) => use.body)) {
    for (const name of find(input.body))
      if (secrets[name]?.body && !placements.some((p) => p.name === name && p.where === "body"))
        placements.push({ name, where: "body" });
  }
  if (misplaced !== undefined) {
    const { name, where } = misplaced;
    return { ok: false, name, where, message: `placeholder for ${name} may not be sent in the ${where}` };
  }
  return { ok: true, placements };
}

/** `x-api-key` → `X-Api-Key`, the form cards show. */
function headerLabel(lower: string): string {
  return lower.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** Keys go into messages and cards: keep them short and printable. */
function printable(key: string): string {
  const clean = key.replace(/[^ -~]/g, "?");
  return clean.length > 40 ? `${clean.slice(0, 37)}...` : clean;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll("+", " "));
  } catch {
    return s;
  }
}
