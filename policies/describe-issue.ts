/**
 * Turns schema validation issues into short human messages, one per problem, with a path that
 * `load.ts` can point at a line. Structural on purpose: it reads the fields zod issues carry
 * without importing zod, which stays behind `schema.ts`.
 */

/** One schema problem: where (keys and indices from the document root) and what, in words. */
export interface SchemaIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** The subset of a zod issue we read. */
export interface IssueLike {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly keys?: readonly string[];
  readonly issues?: readonly IssueLike[];
}

/**
 * Describes one validation issue. Unknown keys become one issue per key, each pointing at the
 * key itself and suggesting the closest known key (`metods` → `methods`).
 * @param knownKeys the keys allowed in the mapping at a path, used for suggestions.
 */
export function describeIssue(
  issue: IssueLike,
  knownKeys: (path: readonly PropertyKey[]) => readonly string[],
): SchemaIssue[] {
  const path = issue.path.map((key) => (typeof key === "number" ? key : String(key)));
  if (issue.code === "unrecognized_keys") {
    return (issue.keys ?? []).map((key) => {
      const near = closest(key, knownKeys(issue.path));
      const hint = near === undefined ? "" : ` (did you mean "${near}"?)`;
      return { path: [...path, key], message: `unknown key "${key}"${hint}` };
    });
  }
  // A bad record key: the useful message is the key check's, not "Invalid key in record".
  const message =
    issue.code === "invalid_key" ? (issue.issues?.[0]?.message ?? issue.message) : issue.message;
  return [{ path, message }];
}

/** Renders a path the way a YAML author would point at it: `rules[1].methods[0]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? key : `.${key}`;
  }
  return out;
}

/** Shows a YAML value in an error message: quoted text (truncated), numbers, or its kind. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string")
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

/** The known key within edit distance 2 of `key`, if any; typos are rarely further off. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitution));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
