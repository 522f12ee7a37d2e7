/**
 * "What would happen to this request?" for people editing policies (`/policy test`, the control
 * API). Pure: parses the URL the same strict way the proxy does, then runs the evaluator.
 */
import { type Decision, evaluate, type PolicySet } from "../policies/index.js";
import { parseAbsoluteForm } from "./target.js";

/** The decision for `method url` by `agent`, or an error when the URL is not one the proxy accepts. */
export function testPolicy(
  set: PolicySet,
  agent: string,
  method: string,
  url: string,
): Decision | { error: string } {
  // https and http targets are judged alike: the scheme never changes the policy decision.
  const parsed = parseAbsoluteForm(url.replace(/^https:/i, "http:"));
  if (!parsed) return { error: "url must look like https://host/path" };
  const path = parsed.pathAndQuery.split("?")[0] ?? "/";
  return evaluate(set, { agent, method, host: parsed.target.host, path });
}
