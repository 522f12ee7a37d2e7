/**
 * Policy directory text → `PolicySet`, or every problem found, each with file, line and a human
 * message. The only file that imports `yaml`. Does no I/O: the caller reads the files.
 * All-or-nothing by design: one bad file fails the whole set, so the caller keeps the policies
 * already in force instead of running with a silently shrunken set.
 */

import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { compileDefaults, compilePolicy, DEFAULT_DEFAULTS } from "./compile.js";
import { formatPath } from "./describe-issue.js";
import { checkDefaultsFile, checkPolicyFile, isName, type SchemaIssue } from "./schema.js";
import type { CompiledPolicy, CompileResult, PolicyDefaults, PolicyIssue } from "./types.js";

/** One file of a policies directory: its name (or path) and its text. */
export interface PolicySource {
  readonly file: string;
  readonly text: string;
}

const YAML_EXT_RE = /\.ya?ml$/;

/** True for names `compilePolicies` accepts (`*.yaml`, `*.yml`); use it to pick files to read. */
export function isPolicyFileName(file: string): boolean {
  return YAML_EXT_RE.test(baseName(file));
}

/**
 * Validates and compiles every file of a policies directory together. `_defaults.yaml` (or
 * `.yml`) holds the global settings; every other file is one policy, named by its `name:` or
 * else by its file name without the extension. Policies come out sorted by file name.
 */
export function compilePolicies(files: readonly PolicySource[]): CompileResult {
  const issues: PolicyIssue[] = [];
  const policies: CompiledPolicy[] = [];
  const names = new Map<string, string>();
  let defaults: PolicyDefaults | undefined;
  let defaultsFile: string | undefined;
  // Rules that escalate but take their timeout from `_defaults.yaml`, checked once it is known.
  const escalations: { file: string; line?: number; afterMs: number }[] = [];
  // Sorted by code units, not locale, so "first by file name" means the same everywhere.
  const sorted = [...files].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  for (const { file, text } of sorted) {
    const stem = baseName(file).replace(YAML_EXT_RE, "");
    if (!isPolicyFileName(file)) {
      issues.push({ file, message: "not a policy file: names must end in .yaml or .yml" });
      continue;
    }
    const yaml = parseYaml(file, text, issues);
    if (yaml === undefined) continue;
    const report = (problems: readonly SchemaIssue[]): void => {
      for (const { path, message } of problems) {
        const where = formatPath(path);
        issues.push({
          file,
          line: yaml.lineOf(path),
          message: where === "" ? message : `${where}: ${message}`,
        });
      }
    };
    if (stem === "_defaults") {
      const checked = checkDefaultsFile(yaml.data);
      if (defaultsFile !== undefined)
        report([{ path: [], message: `defaults are already set by ${defaultsFile}` }]);
      else if (!checked.ok) report(checked.issues);
      else defaults = compileDefaults(checked.value);
      defaultsFile ??= file;
      continue;
    }
    if (stem.startsWith("_")) {
      report([
        { path: [], message: 'file names starting with "_" are reserved (only _defaults.yaml is known)' },
      ]);
      continue;
    }
    const checked = checkPolicyFile(yaml.data);
    if (!checked.ok) {
      report(checked.issues);
      continue;
    }
    const name = checked.value.name ?? stem;
    const other = names.get(name);
    if (!isName(name))
      report([{ path: [], message: `file name gives the invalid policy name "${name}"; set name:` }]);
    else if (other !== undefined)
      report([{ path: ["name"], message: `duplicate policy name "${name}" (also ${other})` }]);
    else {
      names.set(name, file);
      const policy = compilePolicy(file, name, checked.value);
      policies.push(policy);
      policy.rules.forEach((rule, i) => {
        if (rule.escalate && rule.timeoutMs === undefined)
          escalations.push({
            file,
            line: yaml.lineOf(["rules", i, "escalate", "after"]),
            afterMs: rule.escalate.afterMs,
          });
      });
    }
  }
  const timeoutMs = (defaults ?? DEFAULT_DEFAULTS).approvalTimeoutMs;
  for (const { file, line, afterMs } of escalations)
    if (afterMs >= timeoutMs)
      issues.push({
        file,
        line,
        message:
          "escalate.after: must be shorter than the approval timeout (_defaults.yaml approval_timeout)",
      });
  if (issues.length > 0) {
    // Stable: file order first (already sorted), then line within a file.
    const order = new Map(sorted.map(({ file }, i) => [file, i]));
    const rank = (issue: PolicyIssue): number => (order.get(issue.file) ?? 0) * 1e9 + (issue.line ?? 0);
    return { ok: false, issues: issues.sort((a, b) => rank(a) - rank(b)) };
  }
  return {
    ok: true,
    set: Object.freeze({ defaults: defaults ?? DEFAULT_DEFAULTS, policies: Object.freeze(policies) }),
  };
}

/** Renders issues one per line as `file:line: message`, the form editors and CI logs link. */
export function formatIssues(issues: readonly PolicyIssue[]): string {
  return issues
    .map(({ file, line, message }) =>
      line === undefined ? `${file}: ${message}` : `${file}:${line}: ${message}`,
    )
    .join("\n");
}

interface ParsedYaml {
  readonly data: unknown;
  readonly lineOf: (path: readonly (string | number)[]) => number | undefined;
}

function parseYaml(file: string, text: string, issues: PolicyIssue[]): ParsedYaml | undefined {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  // Warnings too (e.g. an unknown !tag): "strict" means nothing is quietly reinterpreted.
  const problems = [...doc.errors, ...doc.warnings];
  for (const { message, pos } of problems) issues.push({ file, line: counter.linePos(pos[0]).line, message });
  if (problems.length > 0) return undefined;
  if (doc.contents === null) {
    issues.push({ file, message: "file is empty" });
    return undefined;
  }
  let data: unknown;
  try {
    data = doc.toJS(); // throws on an undefined alias or an alias bomb (maxAliasCount)
  } catch (err) {
    issues.push({ file, message: `cannot read YAML: ${err instanceof Error ? err.message : String(err)}` });
    return undefined;
  }
  return { data, lineOf: (path) => lineOf(doc, counter, path) };
}

/** Line of the deepest node on `path` that exists: the key itself for mappings. */
function lineOf(doc: Document, counter: LineCounter, path: readonly (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = startOf(node);
  for (const key of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => (isScalar(item.key) ? String(item.key.value) : String(item.key)) === String(key),
      );
      if (pair === undefined) break;
      offset = startOf(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number" && key < node.items.length) {
      node = node.items[key];
      offset = startOf(node) ?? offset;
    } else break;
  }
  return offset === undefined ? undefined : counter.linePos(offset).line;
}

function startOf(node: unknown): number | undefined {
  const range = (node as { range?: readonly number[] } | null)?.range;
  return range?.[0];
}

function baseName(file: string): string {
  return file.slice(Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\")) + 1);
}
