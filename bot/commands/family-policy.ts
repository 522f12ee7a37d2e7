/**
 * The policy `/setup family` writes: the family assistant (agent `family`) may read the shared
 * calendar and shopping list and add to the list freely; booking, buying, paying and messaging
 * anyone outside the family wait for ONE of the named parents (explicit ids, so the owner or an
 * admin who is not a parent gets no say); deletes and anything else on the host are refused, and
 * other hosts are refused by `_defaults.yaml` (`unknown_hosts: deny`). The host is the pretend
 * family service that `warden start` runs; point `hosts` at real services to use real ones.
 */

/** Approver ids look like `<platform>:<id>`; anything else would change the YAML's meaning. */
const APPROVER_ID = /^[a-z][a-z0-9_-]{0,31}:[A-Za-z0-9._@:-]{1,64}$/;

/** True for an id the family policy can name as a parent (checked before anything is saved). */
export const isFamilyApproverId = (id: string): boolean => APPROVER_ID.test(id) && !id.startsWith("role:");

/** The family policy's YAML, with `parents` (approver ids) as the only approvers. */
export function familyPolicyYaml(parents: readonly string[]): string {
  if (parents.length === 0) throw new Error("the family policy needs at least one parent");
  for (const p of parents) if (!APPROVER_ID.test(p)) throw new Error(`not an approver id: ${p}`);
  const approvers = `[${parents.map((p) => JSON.stringify(p)).join(", ")}]`;
  const held = (name: string, path: string, why: string) =>
    [
      `  - name: ${name} # ${why}`,
      "    methods: [POST, PUT, PATCH]",
      `    paths: ["${path}"]`,
      "    action: approve",
      `    approvers: ${approvers}`,
      "    timeout: 30m",
    ].join("\n");
  return [
    "# Written by /setup family. The family assistant reads the shared calendar and shopping list",
    "# freely; booking, buying, paying or messaging outsiders waits for a parent's OK.",
    "name: family",
    "hosts: [family.warden.local]",
    "agents: [family]",
    "allow_private: true # the pretend family service runs on this machine",
    "secrets:",
    "  DEMO_API_KEY: {}",
    "rules:",
    "  - name: no-deletes",
    "    methods: [DELETE]",
    "    action: deny",
    "  - name: read-calendar",
    "    methods: [GET]",
    '    paths: ["/family/calendar"]',
    "    action: allow",
    "  - name: shopping-list",
    "    methods: [GET, POST]",
    '    paths: ["/family/shopping"]',
    "    action: allow",
    held("book", "/family/bookings", "appointments, tables, tickets"),
    held("buy-or-pay", "/family/orders", "anything that spends money"),
    held("message-outsiders", "/family/messages", "anyone outside the family"),
    "default: deny",
    "",
  ].join("\n");
}
