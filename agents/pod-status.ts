/**
 * Reads what kubernetes/kubernetes-runtime.ts needs out of a Pod's status: whether it ended and with
 * which code, its state in the `Runtime` vocabulary, and why it will never start. Pure; the Pod object
 * comes from the API server and its strings are only compared or quoted, never interpreted.
 */
import type { V1Pod } from "@kubernetes/client-node";

/** The exit code once the Pod's runner has terminated, else undefined. */
export function podExitCode(pod: V1Pod): number | undefined {
  const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
  if (terminated) return terminated.exitCode;
  const phase = pod.status?.phase;
  // Failed without a container status (e.g. evicted before it ran): 137, as for a killed process.
  if (phase === "Failed") return 137;
  if (phase === "Succeeded") return 0;
  return undefined;
}

/** `Runtime.list()` states: created, running, exited, unknown. */
export function podState(pod: V1Pod): "created" | "running" | "exited" | "unknown" {
  switch (pod.status?.phase) {
    case "Pending":
      return "created";
    case "Running":
      return podExitCode(pod) === undefined ? "running" : "exited";
    case "Succeeded":
    case "Failed":
      return "exited";
    default:
      return "unknown";
  }
}

// Waiting reasons that do not clear up by waiting (the kubelet retries, but an operator must act).
const STUCK = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "ErrImageNeverPull",
  "InvalidImageName",
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError",
]);

/** Why the Pod cannot start (`reason: message`), or undefined while it may still. */
export function podStuck(pod: V1Pod): string | undefined {
  const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
  if (waiting?.reason && STUCK.has(waiting.reason))
    return `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`;
  // Unschedulable may clear when capacity frees up: reported with the ready timeout (podSummary).
  return undefined;
}

/** A short description of the Pod's condition for timeout messages. */
export function podSummary(pod: V1Pod | undefined): string {
  if (!pod) return "no Pod";
  const c = pod.status?.containerStatuses?.[0]?.state;
  const detail = c?.waiting?.reason ?? (c?.running ? "running" : c?.terminated?.reason);
  const cond = pod.status?.conditions?.find((x) => x.status === "False" && x.reason);
  return [pod.status?.phase ?? "?", detail, cond ? `${cond.type}: ${cond.reason} ${cond.message ?? ""}` : ""]
    .filter(Boolean)
    .join(", ")
    .trim();
}
