/**
 * The policy shared by the approval suites: every POST under a prefix needs a human, with
 * explicit approver ids (a standalone gateway knows no roles).
 */
export const APPROVERS = ["test:alice", "test:bob"];

/** `pay.test`: `/pay/*` once, `/quorum/*` two approvers, `/expire/*` 2 s timeout, `/grant/*` grantable. */
export const PAY_POLICY = {
  hosts: ["pay.test"],
  rules: [
    { name: "once", methods: ["POST"], paths: ["/pay/*"], action: "approve", approvers: APPROVERS },
    {
      name: "quorum",
      methods: ["POST"],
      paths: ["/quorum/*"],
      action: "approve",
      approvals: 2,
      approvers: APPROVERS,
    },
    {
      name: "slow",
      methods: ["POST"],
      paths: ["/expire/*"],
      action: "approve",
      timeout: "2s",
      approvers: APPROVERS,
    },
    {
      name: "grantable",
      methods: ["POST"],
      paths: ["/grant/*"],
      action: "approve",
      grant: "10m",
      approvers: APPROVERS,
    },
    { name: "read", methods: ["GET"], action: "allow" },
  ],
  default: "deny",
};

export const DEFAULTS = { unknown_hosts: "deny", approval_timeout: "15m", approvers: APPROVERS };

/** Settles a promise into a flag so a test can assert it is still pending. */
export function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  return { promise, settled: () => done };
}
