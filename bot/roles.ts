/**
 * Who may do what. Untrusted: sender ids (as vouched for by the platform), tokens typed into chat.
 * We guarantee: an identity counts only through the person it is linked to; unknown identities hold
 * no role at all; the owner claim token works once and only while nobody owns this Warden; every
 * check returns a reason, never a bare boolean, so refusals can be logged and explained.
 */
import type { RoleResolver } from "../gateway/index.js";
import { type BotStore, type Person, type Role, ROLES } from "./bot-store.js";

export type AccessDecision =
  | { readonly ok: true; readonly person: Person }
  | { readonly ok: false; readonly reason: "unknown_person" | "role_too_low"; readonly needed: Role };

export type ClaimOutcome =
  | { readonly ok: true; readonly person: Person; readonly role: Role }
  | { readonly ok: false; readonly reason: "invalid_token" | "already_owned" };

/** What unknown people are told, and nothing else. */
export const UNKNOWN_PERSON_REPLY =
  "Sorry, I don't know you yet. Ask the owner of this Warden for an invitation link.";

/** True when `role` includes `needed` (owner ⊇ admin ⊇ approver ⊇ member). */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** Whether the person behind `identity` holds at least `needed`. */
export async function authorize(store: BotStore, identity: string, needed: Role): Promise<AccessDecision> {
  const person = await store.personOf(identity);
  if (!person) return { ok: false, reason: "unknown_person", needed };
  if (!roleAtLeast(person.role, needed)) return { ok: false, reason: "role_too_low", needed };
  return { ok: true, person };
}

/** Resolves the gateway's `role:<name>` approver entries through linked identities. */
export function createRoleResolver(
  store: BotStore,
): RoleResolver & { hasRole(id: string, role: string): Promise<boolean> } {
  return {
    async hasRole(id: string, role: string): Promise<boolean> {
      // A role name we do not know matches nobody (fail closed on typos in policies).
      if (!(ROLES as readonly string[]).includes(role)) return false;
      const person = await store.personOf(id);
      return person !== undefined && roleAtLeast(person.role, role as Role);
    },
  };
}

/**
 * Redeems an owner-claim or invitation token for `identity`. The token is burned by the attempt,
 * valid or not. A claim made after someone already owns this Warden is refused: first claim wins.
 */
export async function redeemToken(
  store: BotStore,
  token: string,
  identity: string,
  name: string,
): Promise<ClaimOutcome> {
  const claim = await store.consumeToken("claim", token);
  if (claim) {
    if ((await store.listPeople()).some((p) => p.role === "owner"))
      return { ok: false, reason: "already_owned" };
    return { ok: true, ...(await grant(store, identity, name, "owner")) };
  }
  const invite = await store.consumeToken("invite", token);
  if (invite?.role) return { ok: true, ...(await grant(store, identity, name, invite.role)) };
  return { ok: false, reason: "invalid_token" };
}

async function grant(
  store: BotStore,
  identity: string,
  name: string,
  role: Role,
): Promise<{ person: Person; role: Role }> {
  const existing = await store.personOf(identity);
  if (!existing) return { person: await store.createPerson(identity, safeName(name), role), role };
  // An invitation never lowers anyone's role.
  const next = roleAtLeast(existing.role, role) ? existing.role : role;
  await store.setRole(existing.id, next);
  return { person: { ...existing, role: next }, role: next };
}

/** Display names come from the platform (user-chosen): one line, no control characters, bounded. */
export function safeName(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  const clean = name.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "").trim();
  return clean.slice(0, 64) || "someone";
}
