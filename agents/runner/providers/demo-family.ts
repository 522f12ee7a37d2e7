/**
 * The demo brain's family phrases (the `/setup family` quick start), against the pretend family
 * service at family.warden.local: read the shared calendar and shopping list, add to the list, and
 * book, buy or message someone outside the family (which the family policy holds for a parent).
 * Scripted like the rest of the demo brain: fixed phrases, no model.
 */
import type { Tools } from "../brain.js";
import type { HttpToolResponse } from "../http-tool.js";

export type FamilyIntent =
  | { readonly kind: "calendar" }
  | { readonly kind: "shopping" }
  | { readonly kind: "add"; readonly item: string }
  | { readonly kind: "book" | "buy" | "message"; readonly what: string };

export const FAMILY_HELP = [
  '• "what\'s on the family calendar"',
  '• "what\'s on the shopping list" / "add eggs to the shopping list"',
  '• "book a swimming lesson on Saturday" / "buy a birthday present" / "message the dentist …" (a parent approves)',
];

/** Maps a family phrase to an intent, or undefined when it is not one of them. */
export function parseFamilyRequest(text: string): FamilyIntent | undefined {
  const t = text.trim().replace(/\s+/g, " ");
  const add = /\badd (.{1,80}?) to the shopping list\b/i.exec(t);
  if (add?.[1]) return { kind: "add", item: add[1] };
  if (/\bshopping list\b/i.test(t)) return { kind: "shopping" };
  if (/\b(family|shared)\s+calendar\b/i.test(t)) return { kind: "calendar" };
  const act = /\b(book|reserve|buy|order|pay(?: for)?|message|text)\b\s+(.{1,160})/i.exec(t);
  if (!act?.[1] || !act[2]) return undefined;
  const verb = act[1].toLowerCase();
  const kind =
    verb === "book" || verb === "reserve"
      ? "book"
      : verb === "message" || verb === "text"
        ? "message"
        : "buy";
  return { kind, what: act[2].replace(/[.!?]+$/, "") };
}

/** Carries out a family intent; `reason` goes on the approval card as the agent's own words. */
export async function actFamily(
  intent: FamilyIntent,
  tools: Tools,
  opts: { base: string; auth: Record<string, string>; reason: string },
): Promise<string> {
  const url = (p: string) => `${opts.base}/family/${p}`;
  const get = (p: string) => tools.http({ method: "GET", url: url(p), headers: opts.auth });
  const post = (p: string, body: unknown) =>
    tools.http({
      method: "POST",
      url: url(p),
      headers: { ...opts.auth, "content-type": "application/json", "x-warden-reason": opts.reason },
      body: JSON.stringify(body),
    });
  switch (intent.kind) {
    case "calendar": {
      const res = await get("calendar");
      const events = listOf(res, "events") as { day?: string; time?: string; title?: string }[];
      return res.status === 200
        ? [
            "On the family calendar:",
            ...events.map((e) => `• ${e.day ?? ""} ${e.time ?? ""} ${e.title ?? ""}`),
          ].join("\n")
        : failed("Reading the family calendar", res);
    }
    case "shopping": {
      const res = await get("shopping");
      return res.status === 200
        ? `On the shopping list: ${(listOf(res, "items") as string[]).join(", ") || "nothing"}.`
        : failed("Reading the shopping list", res);
    }
    case "add": {
      const res = await post("shopping", { item: intent.item });
      return res.status === 200
        ? `Added ${intent.item} to the shopping list.`
        : failed("Adding to the list", res);
    }
    default: {
      const path = intent.kind === "book" ? "bookings" : intent.kind === "buy" ? "orders" : "messages";
      const res = await post(path, { what: intent.what });
      const doing = `${intent.kind === "book" ? "Booking" : intent.kind === "buy" ? "Buying" : "Messaging"} ${intent.what}`;
      return res.status === 200 ? `${doing}: done, a parent approved it.` : failed(doing, res);
    }
  }
}

function listOf(res: HttpToolResponse, key: string): unknown[] {
  try {
    const v = (JSON.parse(res.body) as Record<string, unknown>)[key];
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function failed(action: string, res: HttpToolResponse): string {
  const code = res.wardenError?.code;
  if (code === "approval_denied") return `${action}: a parent said no, so I did not do it.`;
  if (code === "approval_expired") return `${action}: no parent answered in time, so I did not do it.`;
  if (code) return `${action}: Warden refused it (${code}).`;
  return `${action} failed: HTTP ${res.status}.`;
}
