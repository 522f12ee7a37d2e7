/**
 * Which GraphQL operation types a request would execute, read with the `graphql` reference parser
 * (the only file that imports it) rather than by searching text for "mutation": aliases, comments,
 * fragments, block strings and `operationName` all mean what the server makes of them.
 *
 * Untrusted: the whole body (and URL query) from the agent. We answer with the SET of operation
 * types the server might execute, or "unreadable" when we cannot know: not GraphQL, a document
 * that does not parse, a persisted query (no `query` text: only the server knows what the id
 * means), an `operationName` that names no operation, or several operations without a name. A
 * batch (`[{query}, …]`) executes every element, so its set is the union. Pure: no I/O.
 */

import { Kind, parse } from "graphql";
import type { CanonicalBody } from "./canonical-body.js";

export type OperationType = "query" | "mutation" | "subscription";

/** The types a request may execute (empty = not a GraphQL request at all), or unreadable. */
export type GraphqlOperations = ReadonlySet<OperationType> | "unreadable";

// Bounds the parser's work on hostile documents (a real query has hundreds of tokens, not 100k).
const MAX_TOKENS = 100_000;

/**
 * Reads the GraphQL operations of a request.
 * @param body the canonical body (see `canonical-body.ts`).
 * @param urlParams decoded URL query pairs (GET-style GraphQL: `?query=…&operationName=…`).
 */
export function graphqlOperations(
  body: CanonicalBody,
  urlParams: readonly (readonly [string, string])[] = [],
): GraphqlOperations {
  if (body.kind === "unreadable") return "unreadable";
  const types = new Set<OperationType>();
  const add = (found: GraphqlOperations): boolean => {
    if (found === "unreadable") return false;
    for (const t of found) types.add(t);
    return true;
  };
  // A server may read the document from the URL even when there is a body: read both.
  if (urlParams.some(([k]) => k === "query" || k === "operationName")) {
    if (!add(fromParams(urlParams))) return "unreadable";
  }
  if (body.kind === "empty") return types;
  if (body.mediaType === "application/graphql") {
    if (!add(operationsOf(body.text, undefined))) return "unreadable";
  } else if (body.json !== undefined) {
    if (!add(fromJson(body.json))) return "unreadable";
  } else if (body.form !== undefined) {
    if (!add(fromParams(body.form))) return "unreadable";
  } else {
    // Text we cannot place in any GraphQL transport: the server might still read it as a document.
    return "unreadable";
  }
  return types;
}

function fromJson(json: unknown): GraphqlOperations {
  if (!Array.isArray(json)) return fromRequest(json);
  // An empty batch executes nothing, but no real client sends one: refuse to guess.
  if (json.length === 0) return "unreadable";
  const types = new Set<OperationType>();
  for (const item of json) {
    const found = fromRequest(item);
    if (found === "unreadable") return "unreadable";
    for (const t of found) types.add(t);
  }
  return types;
}

function fromRequest(item: unknown): GraphqlOperations {
  if (item === null || typeof item !== "object" || Array.isArray(item)) return "unreadable";
  const { query, operationName } = item as Record<string, unknown>;
  // No `query`: a persisted query by id or hash; what it does is only known to the server.
  if (typeof query !== "string") return "unreadable";
  if (operationName !== undefined && operationName !== null && typeof operationName !== "string")
    return "unreadable";
  return operationsOf(query, operationName ?? undefined);
}

function fromParams(pairs: readonly (readonly [string, string])[]): GraphqlOperations {
  const queries = pairs.filter(([k]) => k === "query").map(([, v]) => v);
  const names = pairs.filter(([k]) => k === "operationName").map(([, v]) => v);
  // Repeated parameters: first-wins and last-wins servers both exist.
  if (queries.length !== 1 || names.length > 1) return "unreadable";
  return operationsOf(queries[0] ?? "", names[0] === "" ? undefined : names[0]);
}

/** The type of the operation `operationName` selects in `source` (GraphQL spec "GetOperation"). */
export function operationsOf(source: string, operationName: string | undefined): GraphqlOperations {
  let operations: { name: string | undefined; type: OperationType }[];
  try {
    const doc = parse(source, { noLocation: true, maxTokens: MAX_TOKENS });
    operations = doc.definitions.flatMap((def) =>
      def.kind === Kind.OPERATION_DEFINITION
        ? [{ name: def.name?.value, type: def.operation as OperationType }]
        : [],
    );
  } catch {
    return "unreadable";
  }
  if (operations.length === 0) return "unreadable";
  if (operationName !== undefined) {
    const chosen = operations.filter((op) => op.name === operationName);
    // The server would refuse; we cannot be sure every server does, so we cannot say "nothing".
    if (chosen.length !== 1) return "unreadable";
    return new Set(chosen.map((op) => op.type));
  }
  // Several operations and no name: the spec says error, a lax server might run the first or all.
  return operations.length === 1 ? new Set(operations.map((op) => op.type)) : "unreadable";
}
